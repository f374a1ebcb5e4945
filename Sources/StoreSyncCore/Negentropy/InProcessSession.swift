/// Runs a whole reconciliation between two engines in one process, passing the messages
/// directly: what tests, benchmarks and single-process tools use to compare two key sets.
public struct InProcessSession {
    /// What a completed session found and what it cost.
    public struct Outcome: Sendable {
        /// Ids the initiator holds and the responder lacks.
        public var have: [MessageHash] = []
        /// Ids the responder holds and the initiator lacks.
        public var need: [MessageHash] = []
        /// Round trips: messages from the initiator that got an answer.
        public var rounds = 0
        /// Bytes sent by the initiator.
        public var bytesUp = 0
        /// Bytes sent by the responder.
        public var bytesDown = 0
        /// The largest message either side sent.
        public var largestMessage = 0

        /// An empty outcome, for other methods measured the same way.
        public init() {}
    }

    /// Why a session did not complete.
    public enum Failure: Error, Equatable, Sendable {
        /// The engines kept talking past the round limit.
        case tooManyRounds(Int)
    }

    /// The initiator's engine.
    public let initiator: Reconciler
    /// The responder's engine.
    public let responder: Reconciler
    /// The most round trips before the session is abandoned.
    public var maximumRounds: Int

    /// Creates a session between two fresh engines.
    public init(initiator: Reconciler, responder: Reconciler, maximumRounds: Int = 10_000) {
        self.initiator = initiator
        self.responder = responder
        self.maximumRounds = maximumRounds
    }

    /// Reconciles `local` (the initiator's keys) with `remote` (the responder's).
    public func run(local: some ReconciliationStorage, remote: some ReconciliationStorage) throws -> Outcome {
        try run(
            initiate: { try initiator.initiate(local) },
            respond: { try responder.respond(to: $0, storage: remote) },
            reconcile: { try initiator.reconcile($0, storage: local) }
        )
    }

    /// Reconciles with a fresh snapshot of each side for every message, as nodes do.
    public func run(localSnapshots local: some SnapshotSource, remoteSnapshots remote: some SnapshotSource) throws
        -> Outcome
    {
        try run(
            initiate: { try local.withSnapshot { try initiator.initiate($0) } },
            respond: { message in try remote.withSnapshot { try responder.respond(to: message, storage: $0) } },
            reconcile: { reply in try local.withSnapshot { try initiator.reconcile(reply, storage: $0) } }
        )
    }

    private func run(
        initiate: () throws -> [UInt8],
        respond: ([UInt8]) throws -> [UInt8],
        reconcile: ([UInt8]) throws -> Reconciler.Step
    ) throws -> Outcome {
        var outcome = Outcome()
        var message = try initiate()
        while true {
            guard outcome.rounds < maximumRounds else { throw Failure.tooManyRounds(maximumRounds) }
            outcome.rounds += 1
            outcome.bytesUp += message.count
            outcome.largestMessage = max(outcome.largestMessage, message.count)
            let reply = try respond(message)
            outcome.bytesDown += reply.count
            outcome.largestMessage = max(outcome.largestMessage, reply.count)
            let step = try reconcile(reply)
            outcome.have.append(contentsOf: step.have)
            outcome.need.append(contentsOf: step.need)
            guard let next = step.nextMessage else { return outcome }
            message = next
        }
    }
}
