import NIOCore
import StoreSyncCore
import Synchronization

/// A secured, muxed connection with a peer: opens streams to it, and is closed by either side.
public final class P2PConnection: Sendable {
    /// Who the peer is.
    public let info: P2PConnectionInfo
    let core: any MuxerCore
    private let channel: any Channel
    private let negotiationTimeout: Double
    private let clock: any SyncScheduler
    private let identified = Mutex<Identify?>(nil)

    init(
        info: P2PConnectionInfo, core: any MuxerCore, channel: any Channel, negotiationTimeout: Double,
        clock: any SyncScheduler
    ) {
        self.info = info
        self.core = core
        self.channel = channel
        self.negotiationTimeout = negotiationTimeout
        self.clock = clock
    }

    /// The peer's PeerId.
    public var remotePeer: PeerID { info.remotePeer }

    /// What the peer said of itself in identify, once asked.
    public var identify: Identify? {
        get { identified.withLock { $0 } }
        set { identified.withLock { $0 = newValue } }
    }

    /// Opens a stream and agrees on the first of `protocols` the peer speaks.
    public func newStream(_ protocols: [String]) async throws -> P2PStream {
        let key = try core.open()
        let watchdog = Watchdog(after: negotiationTimeout, clock: clock) { [core] in core.reset(key) }
        defer { watchdog.cancel() }
        var reader = BufferedReader(source: KeyedChunks(owner: core, key: key))
        do {
            let agreed = try await Multistream.select(protocols, reader: &reader) { bytes in
                try await core.write(bytes, on: key)
            }
            return P2PStream(key: key, owner: core, protocolID: agreed, connection: info, pending: reader.buffer)
        } catch {
            core.release(key)
            if watchdog.fired { throw P2PError.timeout("agreeing on \(protocols.joined(separator: ", "))") }
            throw error
        }
    }

    /// Streams open now.
    public var streamCount: Int { core.streamCount }

    /// Closes the connection.
    public func close() {
        core.goAway()
        channel.close(promise: nil)
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// Completes when the connection has closed.
    public func closed() async {
        try? await channel.closeFuture.get()
    }
}
