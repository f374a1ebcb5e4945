import NIOCore
import StoreSyncCore
import StoreSyncP2P
import StoreSyncProto

/// A Waku Store v3 client over libp2p: dials the node once, then one stream per query (a
/// varint-prefixed `StoreQueryRequest` out, a varint-prefixed `StoreQueryResponse` back).
public final class WakuStoreClient: Sendable {
    /// Why a query failed.
    public enum Failure: Error, CustomStringConvertible {
        case timeout(Double)
        case noResponse
        case malformedResponse(String)

        public var description: String {
            switch self {
            case .timeout(let seconds): "no answer within \(seconds) s"
            case .noResponse: "the node closed the stream without an answer"
            case .malformedResponse(let reason): "the answer is not a StoreQueryResponse: \(reason)"
            }
        }
    }

    /// The largest response read: a page of 100 messages of at most 150 KiB each, and framing.
    public static let maximumResponse = 16 << 20

    /// The node queried.
    public var address: Multiaddr { dialer.address }
    private let dialer: Libp2pDialer
    private let timeout: Double

    /// A client of the node at `address` (with its `/p2p/` PeerId), with a fresh identity unless
    /// one is given; each query waits at most `timeout` seconds.
    public init(address: Multiaddr, identity: PrivateKey? = nil, timeout: Double = 30) throws {
        self.dialer = Libp2pDialer(
            address: address, host: P2PHost(identity: try identity ?? PrivateKey.generate(.ed25519)))
        self.timeout = timeout
    }

    /// Sends one query and reads its answer.
    public func query(_ request: Waku_Store_V3_StoreQueryRequest) async throws -> Waku_Store_V3_StoreQueryResponse {
        try await Self.exchange(request, on: try await dialer.connection(), timeout: timeout, clock: SystemScheduler())
    }

    /// One query on a stream of `connection`, answered within `timeout` seconds on `clock`.
    static func exchange(
        _ request: Waku_Store_V3_StoreQueryRequest, on connection: P2PConnection, timeout: Double,
        clock: any SyncScheduler
    ) async throws -> Waku_Store_V3_StoreQueryResponse {
        let stream = try await connection.newStream([StoreNode.storeQueryProtocol])
        defer { stream.close() }
        let watchdog = Watchdog(after: timeout, clock: clock) { stream.reset() }
        defer { watchdog.cancel() }
        do {
            try await stream.writePrefixed(try request.serializedBuffer())
            stream.closeWrite()
            guard
                let answer = try await stream.readPrefixed(
                    limit: Self.maximumResponse, what: "StoreQueryResponse")
            else { throw Failure.noResponse }
            do {
                return try Waku_Store_V3_StoreQueryResponse(buffer: answer)
            } catch {
                throw Failure.malformedResponse("\(error)")
            }
        } catch P2PError.reset where watchdog.fired {
            throw Failure.timeout(timeout)
        }
    }

    /// Closes the connection.
    public func close() {
        dialer.close()
    }
}
