import Glibc

/// The scratch files of a bulk load (sorted runs of records, tree nodes kept aside).
enum ScratchFile {
    /// Writes all of `bytes` at `offset` of the open file `path`, through short writes and
    /// interruptions.
    static func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw StoreError.scratchFile(path: path, operation: "write", errno: errno) }
            done += count
        }
    }
}
