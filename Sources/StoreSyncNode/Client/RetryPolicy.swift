import NIOCore
import NIOPosix
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

    /// Whether an error is worth retrying, and the node's hint of when, in seconds: a
    /// retryable status (408, 429, 503), a stream the peer closed or let stall, or a peer that
    /// could not be reached. Never a local error (a store failure, a refused message, a
    /// malformed answer, a session over its budget), which would only fail again.
    static func retryable(_ error: any Error) -> (retry: Bool, hint: Double?) {
        switch error {
        case PeerError.status(let code, _, let hint):
            return (StatusCode(rawValue: code).isRetryable, hint)
        case PeerError.timedOut, PeerError.closed:
            return (true, nil)
        case is PeerError:
            return (false, nil)
        case is IOError, is NIOConnectionError, is ChannelError:
            // Connection failures: the node may be restarting or overloaded.
            return (true, nil)
        default:
            return (false, nil)
        }
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
                // A hint is honoured up to the policy's longest wait: a peer cannot park a
                // client for longer than its owner allows.
                let wait = max(policy.delay(forRetry: attempt, using: &generator), min(hint ?? 0, policy.maximumDelay))
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
            if let code = UInt16(exactly: response.statusCode), StatusCode(rawValue: code).isRetryable {
                throw PeerError.status(code: code, message: response.statusDesc)
            }
            return response
        }.result
    }
}
