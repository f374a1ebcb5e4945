import CStoreSyncABI
import StoreSyncCore

#if canImport(Glibc)
    import Glibc
#endif

/// Bytes and ids handed to the caller, in memory from `malloc`, which the caller frees with the
/// library's free functions.
enum Buffers {
    /// A buffer holding `bytes`; its data is never NULL (an empty one gets a 1-byte allocation),
    /// so that "no message" (NULL) and "an empty message" stay apart.
    static func buffer(_ bytes: [UInt8]) -> storesync_buffer {
        let data = malloc(max(bytes.count, 1)).assumingMemoryBound(to: UInt8.self)
        bytes.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { data.update(from: base, count: bytes.count) }
        }
        return storesync_buffer(data: data, length: bytes.count)
    }

    /// The ids one after the other, 32 bytes each; NULL for none.
    static func ids(_ hashes: [MessageHash]) -> UnsafeMutablePointer<UInt8>? {
        guard !hashes.isEmpty else { return nil }
        let data = malloc(hashes.count * 32).assumingMemoryBound(to: UInt8.self)
        for (index, hash) in hashes.enumerated() {
            let bytes = hash.bytes
            for offset in 0..<32 { data[index * 32 + offset] = bytes[offset] }
        }
        return data
    }

    static func step(next: [UInt8]?, have: [MessageHash], need: [MessageHash]) -> storesync_step {
        storesync_step(
            next_message: next.map(buffer) ?? storesync_buffer(data: nil, length: 0), have: ids(have),
            have_count: have.count, need: ids(need), need_count: need.count)
    }
}

@_cdecl("storesync_abi_version")
public func cAbiVersion() -> UInt32 {
    UInt32(STORESYNC_ABI_VERSION)
}

@_cdecl("storesync_string_free")
public func cStringFree(_ message: UnsafeMutablePointer<CChar>?) {
    free(message)
}

@_cdecl("storesync_buffer_free")
public func cBufferFree(_ buffer: UnsafeMutablePointer<storesync_buffer>?) {
    guard let buffer else { return }
    free(buffer.pointee.data)
    buffer.pointee = storesync_buffer(data: nil, length: 0)
}

@_cdecl("storesync_step_free")
public func cStepFree(_ step: UnsafeMutablePointer<storesync_step>?) {
    guard let step else { return }
    free(step.pointee.next_message.data)
    free(step.pointee.have)
    free(step.pointee.need)
    step.pointee = storesync_step(
        next_message: storesync_buffer(data: nil, length: 0), have: nil, have_count: 0, need: nil, need_count: 0)
}
