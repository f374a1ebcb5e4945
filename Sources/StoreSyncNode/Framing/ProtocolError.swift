import NIOCore
import StoreSyncCore

/// A request the node refuses: the status to answer with, what is wrong, and for a retryable
/// refusal how long the peer should wait.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The status code to answer with.
    public let code: StatusCode
    /// What is wrong.
    public let message: String
    /// Milliseconds before the peer may try again (0: no hint).
    public let retryAfterMilliseconds: UInt32

    public init(_ code: StatusCode, _ message: String, retryAfterMilliseconds: UInt32 = 0) {
        self.code = code
        self.message = message
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    public var description: String { "\(code): \(message)" }

    static func bad(_ message: String) -> ProtocolError { ProtocolError(.badRequest, message) }
}
