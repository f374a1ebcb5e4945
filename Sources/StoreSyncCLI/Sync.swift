import ArgumentParser
import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncProto
import Synchronization

/// `storesync sync`: one sync of a local store with a peer.
struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sync a local store with a peer once.")

    @Option(help: "Directory of the local LMDB store.")
    var dataDir: String

    @Option(help: "The peer, HOST:PORT.")
    var peer: NodeAddress

    @Option(help: "The pubsub topic to sync.")
    var pubsubTopic = "/waku/2/rs/0/0"

    @Option(help: "Only the last stretch of time, like 1h or 30m (default: everything).")
    var window: DurationArgument?

    @Option(help: "Split policy: reference or adaptive.")
    var policy = SplitPolicy.adaptive

    @Flag(help: "Sync by the reference Waku node's store sync even if the peer offers Negentropy.")
    var noNegentropy = false

    @OptionGroup var retry: RetryOptions

    @OptionGroup var retention: RetentionOptions

    @OptionGroup var archiveOptions: ArchiveOptions

    func run() async throws {
        let store = try await archiveOptions.open(dataDir: dataDir, retention: retention.policy)
        let now = WallClock.nanoseconds()
        let range = window.map { (now - min(now, $0.nanoseconds))..<UInt64.max } ?? 0..<UInt64.max
        do {
            var storeSync = StoreSyncSettings()
            storeSync.negentropy = !noNegentropy
            let client = try peer.client(storeSync: storeSync)
            let display = Mutex(Progress())
            let (report, _) = try await client.withRetries(retry.policy) {
                try await client.sync(store: store, pubsubTopic: pubsubTopic, window: range, policy: policy) { report in
                    display.withLock { $0.show(Self.describe(report)) }
                }
            }
            print(
                "reconciled \(pubsubTopic) with \(peer) by \(report.method.rawValue) in \(report.rounds) rounds "
                    + "(\(report.bytesUp) B up, \(report.bytesDown) B down)"
            )
            print("  only here: \(report.have), only there: \(report.need)")
            print(
                "  fetched: stored \(report.fetched.stored), rejected \(report.fetched.rejected), missing \(report.missing)"
            )
            if report.method == .storeSync {
                print("  pushed: \(report.pushed) (the peer reports nothing of what it stored)")
            } else {
                print(
                    "  sent: stored \(report.sent.stored), duplicates \(report.sent.duplicates), rejected \(report.sent.rejected)"
                )
            }
        } catch {
            printError(explain(error, peer: peer))
            throw ExitCode(1)
        }
    }

    /// One progress line: what reconciliation found and how much of it has moved.
    static func describe(_ report: SyncReport) -> String {
        let fetched = report.fetched.stored + report.fetched.duplicates + report.fetched.rejected
        let sent = report.sent.stored + report.sent.duplicates + report.sent.rejected
        return "syncing: fetched \(fetched)/\(report.need), sent \(sent)/\(report.have), "
            + "\(humanBytes(report.bytesDown)) down"
    }
}
