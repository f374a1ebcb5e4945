import CStoreSyncABI
import StoreSyncCore
import StoreSyncLMDB

#if canImport(Glibc)
    import Glibc
#endif

/// A failure to report across the C boundary: its status code and message.
struct CFailure: Error {
    let status: storesync_status
    let message: String

    init(_ status: Int, _ message: String) {
        self.status = storesync_status(status)
        self.message = message
    }

    static func null(_ what: String) -> CFailure { CFailure(STORESYNC_ERR_NULL_ARGUMENT, "\(what) is NULL") }
    static func invalid(_ message: String) -> CFailure { CFailure(STORESYNC_ERR_INVALID_ARGUMENT, message) }
    static func state(_ message: String) -> CFailure { CFailure(STORESYNC_ERR_INVALID_STATE, message) }

    /// The status and message of any error the engine or the store throws.
    init(classifying error: any Error) {
        switch error {
        case let failure as CFailure: self = failure
        case let wire as WireError: self.init(STORESYNC_ERR_MALFORMED_MESSAGE, "malformed message: \(wire)")
        case let misuse as ReconcilerError:
            if case .frameSizeLimitTooSmall = misuse {
                self.init(STORESYNC_ERR_INVALID_ARGUMENT, misuse.description)
            } else {
                self.init(STORESYNC_ERR_PROTOCOL, misuse.description)
            }
        case let failure as StoreSyncReconciler.Failure:
            self.init(STORESYNC_ERR_PROTOCOL, "store-sync session given up: \(failure)")
        case let store as StoreError: self.init(STORESYNC_ERR_STORE, "\(store)")
        case let message as MessageError: self.init(STORESYNC_ERR_INVALID_ARGUMENT, message.description)
        default: self.init(STORESYNC_ERR_PROTOCOL, "\(error)")
        }
    }
}

/// Where an exported function puts its error message: `char **error`, possibly NULL.
public typealias ErrorOut = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?

/// Runs the body of an exported function: every Swift error becomes a status and, when the
/// caller asked for one, a message it owns. Nothing thrown crosses the boundary.
func exported(_ messageOut: ErrorOut, _ body: () throws -> Void) -> storesync_status {
    messageOut?.pointee = nil
    do {
        try body()
        return storesync_status(STORESYNC_OK)
    } catch {
        let failure = CFailure(classifying: error)
        messageOut?.pointee = strdup(failure.message)
        return failure.status
    }
}
