import KubeAPI
import Testing

@Suite struct LabelSelectorTests {
    static let labels = ["app": "web", "tier": "frontend", "service.kubernetes.io/service-proxy-name": "other"]

    @Test(arguments: [
        ("", true),
        ("app", true),
        ("!app", false),
        ("!missing", true),
        ("app=web", true),
        ("app==web", true),
        ("app=db", false),
        ("app!=db", true),
        ("app!=web", false),
        ("missing!=x", true),
        ("app in (web,db)", true),
        ("app in (db)", false),
        ("missing in (x)", false),
        ("app notin (db, cache)", true),
        ("app notin (web)", false),
        ("missing notin (x)", true),
        ("app=web,tier=frontend", true),
        ("app=web, tier=backend", false),
        ("  app = web ,  !missing  ", true),
        ("service.kubernetes.io/service-proxy-name", true),
        ("!service.kubernetes.io/service-proxy-name", false),
    ])
    func matches(selector: String, expected: Bool) throws {
        #expect(try LabelSelector(parsing: selector).matches(Self.labels) == expected)
    }

    @Test func absentLabelsAreEmpty() throws {
        #expect(try LabelSelector(parsing: "!app").matches(nil))
        #expect(try !LabelSelector(parsing: "app").matches(nil))
        #expect(LabelSelector.everything.matches(nil))
    }

    @Test func parsesIntoRequirements() throws {
        let selector = try LabelSelector(parsing: "a=1,!b,c in (x,y),d notin (z),e,f!=2")
        #expect(
            selector.requirements == [
                .init(key: "a", operator: .equals, values: ["1"]),
                .init(key: "b", operator: .doesNotExist),
                .init(key: "c", operator: .in, values: ["x", "y"]),
                .init(key: "d", operator: .notIn, values: ["z"]),
                .init(key: "e", operator: .exists),
                .init(key: "f", operator: .notEquals, values: ["2"]),
            ])
        #expect(selector.description == "a=1,!b,c in (x,y),d notin (z),e,f!=2")
        #expect(try LabelSelector(parsing: selector.description) == selector)
    }

    @Test func emptyValueIsAllowed() throws {
        let selector = try LabelSelector(parsing: "a=")
        #expect(selector.matches(["a": ""]))
        #expect(!selector.matches(["a": "x"]))
    }

    @Test func matchLabelsIsAnEqualitySelector() {
        let selector = LabelSelector(matchLabels: ["b": "2", "a": "1"])
        #expect(selector.description == "a=1,b=2")
        #expect(selector.matches(["a": "1", "b": "2", "c": "3"]))
        #expect(!selector.matches(["a": "1"]))
    }

    @Test(arguments: [
        ("app=web,", 8, "expected a label key"),
        (",app", 0, "expected a label key"),
        ("app web", 4, "expected \"=\", \"==\", \"!=\", \"in\" or \"notin\" after key \"app\""),
        ("app in web", 7, "expected \"(\""),
        ("app in (web", 11, "expected \",\" or \")\" in value set"),
        ("app=web)", 7, "expected \",\" or end of selector"),
        ("app in ()", 8, "value set must not be empty"),
        ("app!web", 4, "expected \"!=\""),
        ("-app=x", 0, "invalid key \"-app\": must start and end with an alphanumeric character"),
        ("a/b/c", 0, "invalid key \"a/b/c\": at most one \"/\" is allowed"),
        ("Example.com/x", 0, "invalid key \"Example.com/x\": prefix must be a lower-case DNS subdomain"),
        ("app=we*b", 4, "invalid value \"we*b\": only alphanumerics, \"-\", \"_\" and \".\" are allowed"),
    ])
    func reportsWhereAndWhatIsWrong(selector: String, offset: Int, message: String) {
        #expect {
            try LabelSelector(parsing: selector)
        } throws: { error in
            error as? LabelSelector.ParseError
                == LabelSelector.ParseError(input: selector, offset: offset, message: message)
        }
    }

    @Test func parseErrorNamesTheInput() {
        let error = LabelSelector.ParseError(input: "a b", offset: 2, message: "expected x")
        #expect(error.description == "invalid label selector \"a b\" at offset 2: expected x")
    }
}
