import NIOCore
import StoreSyncCore

/// A protocol body that does not decode or breaks a bound.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The status code to answer with.
    public let code: UInt16
    /// What is wrong.
    public let message: String

    public init(_ code: UInt16, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func bad(_ message: String) -> ProtocolError { ProtocolError(StatusCode.badRequest, message) }
}
