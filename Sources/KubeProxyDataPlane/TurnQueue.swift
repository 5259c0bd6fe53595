/// Serialises the long-running operations of an actor (`apply`, `shutdown`, `updateClaims`).
///
/// Actor methods interleave at every `await`; an operation that opens and closes sockets across
/// several awaits must not overlap with the next one. Store one in the actor and bracket each
/// operation with `take()` … `pass()`; waiters are served in arrival order.
struct TurnQueue {
    private var isBusy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Takes the turn at once when nobody holds it; otherwise returns `false` and the caller must
    /// `wait` with a continuation.
    mutating func take() -> Bool {
        guard !isBusy else { return false }
        isBusy = true
        return true
    }

    /// Queues a caller that did not get the turn; it is resumed holding the turn.
    mutating func wait(_ continuation: CheckedContinuation<Void, Never>) {
        waiters.append(continuation)
    }

    /// Hands the turn to the next waiter, or marks the queue idle.
    mutating func pass() {
        if waiters.isEmpty {
            isBusy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
