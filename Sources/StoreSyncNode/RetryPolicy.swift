import StoreSyncCore
import StoreSyncProto

/// How a client retries a request the node refused for load (429, 503), cut off (408), or could
/// not be reached: exponential backoff with jitter, starting at `initialDelay` and doubling up to
/// `maximumDelay`, never sooner than the node's own "retry after" hint.
public struct RetryPolicy: Sendable, Equatable {
    /// Seconds before the first retry (before jitter).
    public var initialDelay: Double
    /// The most seconds between two attempts.
    public var maximumDelay: Double
    /// Attempts in all, the first included.
    public var maximumAttempts: Int

    public init(initialDelay: Double = 1, maximumDelay: Double = 30, maximumAttempts: Int = 5) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumAttempts = maximumAttempts
    }

    /// No retries.
    public static let never = RetryPolicy(maximumAttempts: 1)

    /// The seconds to wait before retry number `retry` (1 for the first): half the backoff plus a
    /// random part of the other half, so that clients refused together do not return together.
    public func delay(forRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Double {
        let backoff = backoff(forRetry: retry)
        return backoff / 2 + Double.random(in: 0...(backoff / 2), using: &generator)
    }

    /// The backoff before retry number `retry` (1 for the first), without jitter:
    /// `initialDelay` doubled per retry, at most `maximumDelay`.
    public func backoff(forRetry retry: Int) -> Double {
        min(maximumDelay, initialDelay * Double(1 << min(max(retry, 1) - 1, 30)))
    }

    /// Whether an error is worth retrying, and the node's hint of when, in seconds.
    static func retryable(_ error: any Error) -> (retry: Bool, hint: Double?) {
        switch error {
        case PeerError.status(let code, let message) where [408, 429, 503].contains(code):
            return (true, hint(in: message))
        case is PeerError:
            return (false, nil)
        case is ProtocolError, is WireError:
            return (false, nil)
        default:
            // Connection failures: the node may be restarting or overloaded.
            return (true, nil)
        }
    }

    /// The milliseconds of a "retry after N ms" message, in seconds.
    static func hint(in message: String) -> Double? {
        guard let range = message.range(of: "retry after ") else { return nil }
        let digits = message[range.upperBound...].prefix { $0.isNumber }
        return Int(digits).map { Double($0) / 1_000 }
    }
}

extension NodeClient {
    /// Runs `operation`, retrying as `policy` says when it fails for load, a timeout or an
    /// unreachable node, waiting on the client's clock. Returns the result and the number of
    /// attempts made.
    public func withRetries<T>(
        _ policy: RetryPolicy,
        seed: UInt64 = UInt64.random(in: 0...UInt64.max),
        _ operation: () async throws -> T
    ) async throws -> (result: T, attempts: Int) {
        var generator = SplitMix64(seed: seed)
        var attempt = 1
        while true {
            do {
                return (try await operation(), attempt)
            } catch {
                let (retry, hint) = RetryPolicy.retryable(error)
                guard retry, attempt < policy.maximumAttempts else { throw error }
                let wait = max(policy.delay(forRetry: attempt, using: &generator), hint ?? 0)
                try await clock.sleep(seconds: wait)
                attempt += 1
            }
        }
    }

    /// A Store v3 query, retried on 429 (inside the response or as an error), 503 and timeouts.
    public func query(_ request: Waku_Store_V3_StoreQueryRequest, retrying policy: RetryPolicy) async throws
        -> Waku_Store_V3_StoreQueryResponse
    {
        try await withRetries(policy) {
            let response = try await query(request)
            if [429, 503].contains(response.statusCode) {
                throw PeerError.status(code: UInt16(response.statusCode), message: response.statusDesc)
            }
            return response
        }.result
    }
}
