import Glibc

/// A fixed-size region of private memory for a bulk load's large buffers, mapped on its own and
/// marked for transparent huge pages: the pages come as they are first written, a fault per
/// 2 MiB instead of per 4 KiB where the kernel allows it, and none is ever copied by growth.
final class AnonymousRegion {
    let base: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) throws {
        self.capacity = max(1, capacity)
        guard
            let mapping = mmap(nil, self.capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            mapping != MAP_FAILED
        else {
            throw StoreError.scratchFile(path: "(memory)", operation: "map \(capacity) bytes", errno: errno)
        }
        base = mapping
        // Advice only: without huge pages the region works the same.
        _ = madvise(base, self.capacity, MADV_HUGEPAGE)
    }

    deinit {
        munmap(base, capacity)
    }
}
