import PostgresNIO

/// Why a PostgreSQL archive could not do what it was asked.
public enum PostgresArchiveError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The archive URL cannot be used.
    case invalidURL(url: String, reason: String)
    /// No server answers at the archive's address.
    case unreachable(location: String, detail: String)
    /// The server refused the user or its password.
    case authenticationFailed(location: String, detail: String)
    /// The database's schema is newer than this build knows.
    case schemaTooNew(found: Int, supported: Int)
    /// A call waited on the database longer than the archive's operation timeout.
    case timedOut(operation: String, seconds: Double)
    /// The database refused or failed a statement.
    case database(operation: String, detail: String)
    /// The archive was closed.
    case closed

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): "invalid archive URL \(url): \(reason)"
        case .unreachable(let location, let detail): "no PostgreSQL server reachable at \(location): \(detail)"
        case .authenticationFailed(let location, let detail):
            "PostgreSQL at \(location) refused the credentials: \(detail)"
        case .schemaTooNew(let found, let supported):
            "the archive's schema is version \(found); this build knows versions up to \(supported)"
        case .timedOut(let operation, let seconds): "\(operation) waited on PostgreSQL for more than \(seconds) s"
        case .database(let operation, let detail): "PostgreSQL failed \(operation): \(detail)"
        case .closed: "the archive is closed"
        }
    }

    /// The error to throw for a failure of the database client during `operation`: the
    /// archive's own, or the cancellation of the caller's task as it is.
    static func mapped(_ error: any Error, operation: String, location: String) -> any Error {
        if error is CancellationError || Task.isCancelled { return CancellationError() }
        return from(error, operation: operation, location: location)
    }

    /// The archive's error for a failure of the database client during `operation`.
    static func from(_ error: any Error, operation: String, location: String) -> PostgresArchiveError {
        if let error = error as? PostgresArchiveError { return error }
        if let error = error as? PostgresTransactionError,
            let cause = error.closureError ?? error.beginError ?? error.commitError
        {
            return from(cause, operation: operation, location: location)
        }
        guard let error = error as? PSQLError else { return .database(operation: operation, detail: "\(error)") }
        let state = error.serverInfo?[.sqlState]
        let message = error.serverInfo?[.message] ?? ""
        if state == "28P01" || state == "28000" {
            return .authenticationFailed(location: location, detail: message)
        }
        if error.code == .connectionError {
            return .unreachable(location: location, detail: error.underlying.map { "\($0)" } ?? "connection failed")
        }
        if error.code == .poolClosed || error.code == .clientClosedConnection { return .closed }
        if let state { return .database(operation: operation, detail: "\(message) (SQLSTATE \(state))") }
        return .database(operation: operation, detail: "\(error.code)" + (error.underlying.map { ": \($0)" } ?? ""))
    }
}
