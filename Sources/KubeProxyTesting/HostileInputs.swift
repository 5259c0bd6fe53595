/// Inputs an attacker would send, shared by unit and end-to-end tests so they test the same thing.
public enum HostileInputs {
    /// The 441-byte document of Kubernetes CVE-2019-11253 ("billion laughs"): nine levels of nine
    /// aliases, 9⁹ strings once expanded. Unbounded, it takes the process's memory until it is
    /// killed.
    public static let billionLaughs = """
        apiVersion: v1
        data:
          a: &a ["web","web","web","web","web","web","web","web","web"]
          b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
          c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
          d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
          e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
          f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
          g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
          h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
          i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
        kind: ConfigMap
        metadata:
          name: yaml-bomb
          namespace: default
        """
}
