import Dispatch
import Foundation
import StoreSyncCore
import StoreSyncLMDB
import Synchronization

/// Imports a JSON Lines file of messages (the format of `JSONLines`) into a store, streaming: the
/// file is read by a thread of its own in batches of lines, batches are parsed and hashed on the
/// cooperative pool several at a time, and stored through the store's writer thread, so reading,
/// parsing and writing overlap. Memory stays bounded by the batches in flight, whatever the
/// file's size. Messages are stored in file order.
public struct BulkImport: Sendable {
    /// How far an import has got.
    public struct Progress: Sendable, Equatable {
        /// Messages handled (stored, duplicate or rejected) and lines refused.
        public var counts = StoreCounts()
        /// Bytes of the file read and its size.
        public var bytesRead = 0
        public var totalBytes = 0
        /// Seconds since the import started.
        public var elapsedSeconds = 0.0

        /// Messages (and refused lines) handled so far.
        public var handled: Int {
            counts.stored + counts.duplicates + counts.rejected + counts.evicted + counts.unavailable
        }
        /// Messages a second so far.
        public var rate: Double { elapsedSeconds > 0 ? Double(handled) / elapsedSeconds : 0 }
        /// Seconds left at the rate so far, from the bytes still to read; nil before any.
        public var secondsLeft: Double? {
            guard bytesRead > 0, elapsedSeconds > 0 else { return nil }
            return Double(totalBytes - bytesRead) / (Double(bytesRead) / elapsedSeconds)
        }
    }

    /// What an import did: the counts, and each refused line with why.
    public struct Report: Sendable {
        public var counts = StoreCounts()
        public var rejected: [(line: Int, reason: String)] = []
    }

    /// Lines per batch.
    public var batchLines: Int
    /// Batches being parsed at once, and batches handed to the store at once.
    public var parsing: Int
    public var writing: Int
    /// The largest message imported, in bytes of its protobuf encoding, as on every other path
    /// into a node.
    public var maximumMessageSize: Int

    public init(
        batchLines: Int = 1_000, parsing: Int = 4, writing: Int = 2,
        maximumMessageSize: Int = MessageAdmission.defaultMaximumMessageSize
    ) {
        self.batchLines = max(1, batchLines)
        self.parsing = max(1, parsing)
        self.writing = max(1, writing)
        self.maximumMessageSize = maximumMessageSize
    }

    /// Imports `path` into `store`, calling `progress` after each batch is stored.
    public func run(
        path: String, into store: any MessageArchive, progress: @Sendable (Progress) -> Void = { _ in }
    ) async throws -> Report {
        let reader = try LineBatchReader(path: path, batchLines: batchLines, buffered: parsing + writing)
        defer { reader.cancel() }
        let started = ContinuousClock.now
        var report = Report()
        var state = Progress(totalBytes: reader.fileSize)
        var parsed: [Task<ParsedBatch, Never>] = []
        var stored: [(batch: ParsedBatch, result: Task<MessageStore.IngestResult, any Error>)] = []

        func finishOldestWrite() async throws {
            let (batch, task) = stored.removeFirst()
            let result = try await task.value
            report.merge(batch, result.outcomes)
            state.counts = report.counts
            state.bytesRead = batch.endOffset
            state.elapsedSeconds = (ContinuousClock.now - started).seconds
            progress(state)
        }
        func write(_ batch: ParsedBatch) async throws {
            let messages = batch.messages.map(\.message)
            stored.append((batch, Task { try await store.ingest(messages) }))
            if stored.count >= writing { try await finishOldestWrite() }
        }

        for await lines in reader.batches {
            reader.taken()
            parsed.append(Task { [maximumMessageSize] in ParsedBatch(lines, maximumMessageSize: maximumMessageSize) })
            if parsed.count >= parsing { try await write(await parsed.removeFirst().value) }
        }
        if let failure = reader.failure { throw failure }
        for task in parsed { try await write(await task.value) }
        while !stored.isEmpty { try await finishOldestWrite() }
        return report
    }
}

/// A batch of lines as parsed: messages with their line numbers, and the lines refused.
struct ParsedBatch: Sendable {
    let messages: [(line: Int, message: WakuMessage)]
    let rejected: [(line: Int, reason: String)]
    /// Where in the file the batch ended.
    let endOffset: Int

    init(_ lines: LineBatch, maximumMessageSize: Int) {
        let parsed = JSONLines(data: lines.data, firstLine: lines.firstLine)
        let (fitting, oversize) = parsed.messages.reduce(
            into: ([(line: Int, message: WakuMessage)](), [(line: Int, reason: String)]())
        ) { split, entry in
            if let tooLarge = MessageAdmission.sizeRefusal(of: entry.message, maximum: maximumMessageSize) {
                split.1.append((entry.line, tooLarge))
            } else {
                split.0.append(entry)
            }
        }
        messages = fitting
        rejected =
            (parsed.rejected + oversize
            + lines.overlong.map { ($0, "line longer than \(JSONLines.maximumLineLength) bytes") })
            .sorted { $0.line < $1.line }
        endOffset = lines.endOffset
    }
}

extension BulkImport.Report {
    mutating func merge(_ batch: ParsedBatch, _ outcomes: [MessageStore.Outcome]) {
        counts.rejected += batch.rejected.count
        rejected += batch.rejected
        for (entry, outcome) in zip(batch.messages, outcomes) {
            switch outcome {
            case .stored: counts.stored += 1
            case .duplicate: counts.duplicates += 1
            case .ephemeral:
                counts.rejected += 1
                rejected.append((entry.line, "ephemeral messages are not stored"))
            case .rejected(let reason):
                counts.rejected += 1
                rejected.append((entry.line, reason))
            case .evicted:
                counts.evicted += 1
            case .unavailable:
                counts.unavailable += 1
            }
        }
    }
}

/// Whole lines of a file, as they came, with the number of the first.
struct LineBatch: Sendable {
    let data: Data
    let firstLine: Int
    /// Lines longer than `JSONLines.maximumLineLength`, left out of `data` (as empty lines).
    let overlong: [Int]
    /// Where in the file reading had got when the batch was handed out.
    let endOffset: Int
}

/// Reads a file on a thread of its own and hands it out in batches of whole lines. At most
/// `buffered` batches wait to be taken: the thread waits for the consumer beyond that.
final class LineBatchReader: Sendable {
    let batches: AsyncStream<LineBatch>
    let fileSize: Int
    private let permits: DispatchSemaphore
    private let shared = Shared()

    /// What the reading thread shares with the consumer.
    private final class Shared: Sendable {
        let cancelled = Atomic(false)
        let failed = Mutex<(any Error)?>(nil)
    }

    /// The read error that ended the stream early, if any.
    var failure: (any Error)? { shared.failed.withLock { $0 } }

    init(path: String, batchLines: Int, buffered: Int) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ValidationErrorText("cannot read \(path): check that the file exists and is readable")
        }
        fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let permits = DispatchSemaphore(value: buffered)
        self.permits = permits
        let (stream, continuation) = AsyncStream<LineBatch>.makeStream()
        batches = stream
        let shared = self.shared
        continuation.onTermination = { _ in
            shared.cancelled.store(true, ordering: .relaxed)
            permits.signal()
        }
        Thread {
            defer {
                try? handle.close()
                continuation.finish()
            }
            var batch = Data()
            var first = 1
            var count = 0
            var overlong: [Int] = []
            var line = 1
            var lineStart = 0
            var skipping = false
            var offset = 0
            func emit() {
                permits.wait()
                guard !shared.cancelled.load(ordering: .relaxed) else { return }
                continuation.yield(LineBatch(data: batch, firstLine: first, overlong: overlong, endOffset: offset))
                batch = Data()
                first = line
                count = 0
                overlong = []
                lineStart = 0
            }
            while !shared.cancelled.load(ordering: .relaxed) {
                let chunk: Data
                do {
                    guard let read = try handle.read(upToCount: 1 << 20), !read.isEmpty else { break }
                    chunk = read
                } catch {
                    shared.failed.withLock { $0 = error }
                    return
                }
                offset += chunk.count
                var index = chunk.startIndex
                while index < chunk.endIndex {
                    guard let newline = chunk[index...].firstIndex(of: UInt8(ascii: "\n")) else {
                        if !skipping {
                            batch.append(chunk[index...])
                            if batch.count - lineStart > JSONLines.maximumLineLength {
                                // Longer than any line accepted: refused, and not buffered further.
                                batch.removeSubrange(lineStart...)
                                skipping = true
                            }
                        }
                        break
                    }
                    if skipping {
                        // The overlong line stays as an empty one, so that later lines keep
                        // their numbers.
                        batch.append(UInt8(ascii: "\n"))
                        overlong.append(line)
                        skipping = false
                    } else {
                        batch.append(chunk[index...newline])
                        if batch.count - lineStart > JSONLines.maximumLineLength + 1 {
                            batch.removeSubrange(lineStart...)
                            batch.append(UInt8(ascii: "\n"))
                            overlong.append(line)
                        }
                    }
                    index = chunk.index(after: newline)
                    line += 1
                    count += 1
                    lineStart = batch.count
                    if count == batchLines { emit() }
                }
            }
            if skipping { overlong.append(line) }
            if !batch.isEmpty || !overlong.isEmpty { emit() }
        }.start()
    }

    /// Lets the reader read one batch more: called for each batch taken.
    func taken() {
        permits.signal()
    }

    /// Stops reading; batches already read may still arrive.
    func cancel() {
        shared.cancelled.store(true, ordering: .relaxed)
        permits.signal()
    }
}
