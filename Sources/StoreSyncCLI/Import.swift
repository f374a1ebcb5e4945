import ArgumentParser
import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncPostgres
import Synchronization

/// `storesync import`: stores the messages of a JSON Lines file, or of a reference node's
/// PostgreSQL archive, in this node's archive, streaming, with progress on standard error.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Store the messages of a JSON Lines file, or of a reference Waku node's PostgreSQL archive, in a node's archive."
    )

    @Option(help: "Directory of the LMDB store (or of the key index, with --archive).")
    var dataDir: String

    @Argument(help: "JSON Lines file: pubsub_topic, content_topic, payload (base64), meta, timestamp (ns), ephemeral.")
    var file: String?

    @Option(
        help: ArgumentHelp(
            "Copy a reference Waku node's archive instead: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE of its messages table (schema 7 or 8). Resumes where a cut-short import stopped.",
            valueName: "url"))
    var fromNwakuPostgres: String?

    @OptionGroup var retention: RetentionOptions

    @OptionGroup var archiveOptions: ArchiveOptions

    func validate() throws {
        guard (file == nil) != (fromNwakuPostgres == nil) else {
            throw ValidationError("name a JSON Lines file or --from-nwaku-postgres, one of them")
        }
    }

    func run() async throws {
        let store = try await archiveOptions.open(dataDir: dataDir, retention: retention.policy)
        if let url = fromNwakuPostgres {
            try await importReference(url, into: store)
            return
        }
        guard let file else { return }
        let display = Mutex((Progress(), BulkImport.Progress?.none))
        let done: BulkImport.Report
        do {
            done = try await BulkImport().run(path: file, into: store) { progress in
                display.withLock { display in
                    display.0.show(Self.describe(progress))
                    display.1 = progress
                }
            }
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        display.withLock { display in
            if let last = display.1 { display.0.show(Self.describe(last), final: true) }
        }
        report(done.counts, reasons: done.rejected)
    }

    /// One progress line: messages, rate, bytes read and time left.
    static func describe(_ progress: BulkImport.Progress) -> String {
        let left = progress.secondsLeft.map { ", \(humanSeconds($0)) left" } ?? ""
        return "imported \(progress.handled) messages, \(Int(progress.rate)) msg/s, "
            + "\(humanBytes(progress.bytesRead)) of \(humanBytes(progress.totalBytes)) read\(left)"
    }

    /// Copies a reference node's archive, with a progress line, and reports what it found.
    private func importReference(_ url: String, into store: any MessageArchive) async throws {
        let source: NwakuArchiveReader
        do {
            source = try await NwakuArchiveReader.open(
                url: url, password: ProcessInfo.processInfo.environment["PGPASSWORD"])
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        defer { source.close() }
        let display = Mutex(Progress())
        let report: NwakuImport.Report
        do {
            report = try await NwakuImport().run(from: source, into: store) { report in
                display.withLock {
                    $0.show("imported \(report.read) of \(report.total) rows, \(report.counts.stored) stored")
                }
            }
        } catch {
            printError("\(error); run the same command again to resume")
            throw ExitCode(1)
        }
        display.withLock {
            $0.show("imported \(report.read) of \(report.total) rows", final: true)
        }
        if let resumed = report.resumedFrom { print("resumed at timestamp \(resumed)") }
        print(
            "read \(report.read) rows from \(source.location) (schema \(source.schemaVersion)): stored \(report.counts.stored), "
                + "duplicates \(report.counts.duplicates), rejected \(report.counts.rejected), "
                + "hash mismatches \(report.mismatched)")
        for hash in report.mismatchedHashes { print("  mismatch: row \(hash) does not hash to its messageHash") }
    }
}
