import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncP2P

/// Pushes messages a peer lacks over a `/vac/waku/transfer/1.0.0` stream of this side's own,
/// as the reference node does: each a varint-prefixed `{pubsub topic, WakuMessage}`, then the
/// end of the stream.
enum TransferPush {
    /// Hashes read from the store at once.
    static let readBatch = 500

    /// What a push moved.
    struct Outcome {
        var sent = 0
        var bytes = 0
    }

    /// Opens the stream on `connection` and writes the stored messages of `hashes`; hashes no
    /// longer stored (retention got there first) are passed over. Returns once the peer has
    /// closed its side too (so that nothing written is lost to a reset), or after `linger`
    /// seconds.
    static func push(
        _ hashes: [MessageHash], from store: any MessageArchive, over connection: P2PConnection, linger: Double,
        clock: any SyncScheduler
    ) async throws -> Outcome {
        var outcome = Outcome()
        guard !hashes.isEmpty else { return outcome }
        let stream = try await connection.newStream([StoreSyncTransfer.protocolID])
        defer { stream.close() }
        var start = 0
        while start < hashes.count {
            let keys = Array(hashes[start..<min(hashes.count, start + readBatch)])
            start += keys.count
            let messages = try await store.messages(for: keys).compactMap { $0 }
            for message in messages {
                let bytes = StoreSyncTransfer(message: message).encoded
                try await stream.writePrefixed(ByteBuffer(bytes: bytes))
                outcome.sent += 1
                outcome.bytes += bytes.count
            }
        }
        stream.closeWrite()
        let watchdog = Watchdog(after: linger, clock: clock) { stream.reset() }
        defer { watchdog.cancel() }
        while (try? await stream.read()) != nil {}
        return outcome
    }
}
