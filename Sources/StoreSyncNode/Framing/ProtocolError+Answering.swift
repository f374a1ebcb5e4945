import StoreSyncCore
import StoreSyncLMDB
import StoreSyncPostgres
import SwiftProtobuf

extension ProtocolError {
    /// The refusal that answers `error` on any protocol: one mapping, so the same failure gets
    /// the same code whichever service met it.
    public static func answering(_ error: any Error) -> ProtocolError {
        switch error {
        case let error as ProtocolError: error
        case let error as FrameError:
            switch error {
            case .tooLarge: ProtocolError(.payloadTooLarge, error.description)
            case .overBudget(_, connection: true): ProtocolError(.payloadTooLarge, error.description)
            case .overBudget(_, connection: false):
                ProtocolError(.unavailable, error.description, retryAfterMilliseconds: 1_000)
            default: ProtocolError(.badRequest, error.description)
            }
        case let error as WireError: ProtocolError(.badRequest, "reconcile message: \(error)")
        case let error as ReconcilerError:
            switch error {
            case .overBudget: ProtocolError(.payloadTooLarge, error.description)
            default: ProtocolError(.badRequest, error.description)
            }
        case let error as MessageError: ProtocolError(.badRequest, error.description)
        case let error as SwiftProtobuf.BinaryDecodingError: ProtocolError(.badRequest, "malformed protobuf: \(error)")
        case let error as StoreError:
            switch error {
            case .mapFull, .closed: ProtocolError(.unavailable, "store: \(error)", retryAfterMilliseconds: 1_000)
            case .invalidRequest, .invalidMessage: ProtocolError(.badRequest, error.description)
            default: ProtocolError(.internalError, "store: \(error)")
            }
        case let error as PostgresArchiveError:
            switch error {
            case .unreachable, .timedOut, .database, .closed:
                // The database is away or busy: worth trying again shortly.
                ProtocolError(.unavailable, "archive: \(error)", retryAfterMilliseconds: 1_000)
            default: ProtocolError(.internalError, "archive: \(error)")
            }
        default: ProtocolError(.internalError, "\(error)")
        }
    }
}
