import Glibc
import StoreSyncCore

/// One index record waiting for its place in hash order: its key and its topic pair (an id
/// given by the bulk load).
struct PendingRecord {
    var hash: MessageHash
    var timestamp: UInt64
    var topics: UInt32
}

/// Puts index records in hash order with bounded memory, so that a bulk load can append them to
/// the `messages` database (the keys of a time window are spread over the whole hash space:
/// written as they come, every one of them would rewrite a page). Up to `runLength` records
/// are held in memory; each full run is sorted and written to a scratch file of this process,
/// and the runs are merged at the end.
final class HashSortedRuns {
    private let directory: String
    private let runLength: Int
    private var buffer: [PendingRecord] = []
    private var runs: [String] = []
    /// Records added.
    private(set) var count = 0

    /// Records read from a run file per read.
    static let readChunk = 16_384

    init(directory: String, runLength: Int) {
        self.directory = directory
        self.runLength = max(1, runLength)
    }

    deinit {
        removeFiles()
    }

    func append(_ record: PendingRecord) throws {
        buffer.append(record)
        count += 1
        if buffer.count >= runLength { try spill() }
    }

    /// Calls `body` with every record in ascending hash order (equal hashes one after the
    /// other), then forgets them.
    func drain(_ body: (PendingRecord) throws -> Void) throws {
        defer {
            removeFiles()
            buffer = []
            count = 0
        }
        guard !runs.isEmpty else {
            sortBuffer()
            for record in buffer { try body(record) }
            return
        }
        try spill()
        let readers = try runs.map { try RunReader(path: $0) }
        // A binary min-heap of run indexes ordered by their current records.
        var heap = readers.indices.filter { readers[$0].current != nil }
        func less(_ a: Int, _ b: Int) -> Bool {
            let (left, right) = (readers[a].current!, readers[b].current!)
            return left.hash < right.hash
        }
        func siftDown(_ start: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { return }
                var smallest = left
                if left + 1 < heap.count && less(heap[left + 1], heap[left]) { smallest = left + 1 }
                guard less(heap[smallest], heap[parent]) else { return }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
        while let top = heap.first {
            try body(readers[top].current!)
            try readers[top].advance()
            if readers[top].current == nil {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            if !heap.isEmpty { siftDown(0) }
        }
    }

    /// Sorts the records in memory and writes them to a new run file.
    private func spill() throws {
        guard !buffer.isEmpty else { return }
        sortBuffer()
        let path = directory + "/run-\(runs.count)"
        let descriptor = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o600)
        guard descriptor >= 0 else { throw StoreError.scratchFile(path: path, operation: "create", errno: errno) }
        runs.append(path)
        defer { close(descriptor) }
        try buffer.withUnsafeBytes { try ScratchFile.write($0, to: descriptor, at: 0, path: path) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Sorts the buffer by hash: hashes are uniform, so one counting pass on their first 16 bits
    /// puts every record within a small bucket, and the buckets are sorted one by one.
    private func sortBuffer() {
        guard buffer.count > 1 else { return }
        var starts = [Int](repeating: 0, count: Self.buckets + 1)
        for record in buffer { starts[Int(record.hash.word0 >> 48) + 1] += 1 }
        for bucket in 0..<Self.buckets { starts[bucket + 1] += starts[bucket] }
        var next = starts
        var sorted = [PendingRecord](unsafeUninitializedCapacity: buffer.count) { out, initialized in
            for record in buffer {
                let bucket = Int(record.hash.word0 >> 48)
                (out.baseAddress! + next[bucket]).initialize(to: record)
                next[bucket] += 1
            }
            initialized = buffer.count
        }
        for bucket in 0..<Self.buckets where starts[bucket + 1] - starts[bucket] > 1 {
            sorted[starts[bucket]..<starts[bucket + 1]].sort { $0.hash < $1.hash }
        }
        buffer = sorted
    }

    static let buckets = 1 << 16

    private func removeFiles() {
        for path in runs { unlink(path) }
        runs = []
    }

    /// Reads one run file in chunks.
    private final class RunReader {
        let path: String
        private var descriptor: Int32
        var chunk: [PendingRecord] = []
        var position = 0
        var current: PendingRecord?

        init(path: String) throws {
            self.path = path
            descriptor = open(path, O_RDONLY)
            guard descriptor >= 0 else { throw StoreError.scratchFile(path: path, operation: "open", errno: errno) }
            try advance()
        }

        deinit {
            if descriptor >= 0 { close(descriptor) }
        }

        func advance() throws {
            position += 1
            if position >= chunk.count { try refill() }
            current = position < chunk.count ? chunk[position] : nil
            if current == nil {
                close(descriptor)
                descriptor = -1
            }
        }

        private func refill() throws {
            let stride = MemoryLayout<PendingRecord>.stride
            var records = [PendingRecord](
                repeating: PendingRecord(hash: .zero, timestamp: 0, topics: 0), count: HashSortedRuns.readChunk)
            let path = self.path
            let descriptor = self.descriptor
            let bytes = try records.withUnsafeMutableBytes { raw -> Int in
                var filled = 0
                while filled < raw.count {
                    let got = read(descriptor, raw.baseAddress! + filled, raw.count - filled)
                    if got < 0 && errno == EINTR { continue }
                    guard got >= 0 else { throw StoreError.scratchFile(path: path, operation: "read", errno: errno) }
                    if got == 0 { break }
                    filled += got
                }
                return filled
            }
            guard bytes % stride == 0 else {
                throw StoreError.scratchFile(path: path, operation: "read (a partial record)", errno: EIO)
            }
            records.removeLast(records.count - bytes / stride)
            chunk = records
            position = 0
        }
    }
}
