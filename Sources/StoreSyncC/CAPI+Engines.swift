import CStoreSyncABI
import StoreSyncCore

/// A message argument: bytes and their length (NULL allowed only with length 0).
private func bytes(_ pointer: UnsafePointer<UInt8>?, _ length: Int, _ what: String) throws -> [UInt8] {
    guard length > 0 else { return [] }
    guard let pointer else { throw CFailure.null(what) }
    return Array(UnsafeBufferPointer(start: pointer, count: length))
}

@_cdecl("storesync_engine_new")
public func cEngineNew(
    _ frameSizeLimit: UInt64, _ policy: storesync_policy, _ out: UnsafeMutablePointer<OpaquePointer?>?,
    _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let split: SplitPolicy
        switch Int(policy) {
        case STORESYNC_POLICY_REFERENCE: split = .reference
        case STORESYNC_POLICY_ADAPTIVE: split = .adaptive
        default: throw CFailure.invalid("unknown policy \(policy)")
        }
        guard frameSizeLimit <= UInt64(Int32.max) else { throw CFailure.invalid("frame size limit too large") }
        let reconciler = try Reconciler(frameSizeLimit: Int(frameSizeLimit), policy: split)
        try Handles.output(out, "out") { EngineHandle(reconciler) }
    }
}

@_cdecl("storesync_engine_free")
public func cEngineFree(_ engine: OpaquePointer?) {
    Handles.release(engine)
}

@_cdecl("storesync_engine_initiate")
public func cEngineInitiate(
    _ engine: OpaquePointer?, _ storage: OpaquePointer?, _ message: UnsafeMutablePointer<storesync_buffer>?,
    _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let handle = try Handles.get(engine, as: EngineHandle.self, "engine")
        let keys = try Handles.get(storage, as: StorageHandle.self, "storage")
        guard let message else { throw CFailure.null("message") }
        let first = try keys.withNegentropyStorage { try handle.reconciler.initiate($0) }
        message.pointee = Buffers.buffer(first)
    }
}

@_cdecl("storesync_engine_respond")
public func cEngineRespond(
    _ engine: OpaquePointer?, _ storage: OpaquePointer?, _ message: UnsafePointer<UInt8>?, _ length: Int,
    _ reply: UnsafeMutablePointer<storesync_buffer>?, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let handle = try Handles.get(engine, as: EngineHandle.self, "engine")
        let keys = try Handles.get(storage, as: StorageHandle.self, "storage")
        guard let reply else { throw CFailure.null("reply") }
        let received = try bytes(message, length, "message")
        let answer = try keys.withNegentropyStorage { try handle.reconciler.respond(to: received, storage: $0) }
        reply.pointee = Buffers.buffer(answer)
    }
}

@_cdecl("storesync_engine_reconcile")
public func cEngineReconcile(
    _ engine: OpaquePointer?, _ storage: OpaquePointer?, _ message: UnsafePointer<UInt8>?, _ length: Int,
    _ step: UnsafeMutablePointer<storesync_step>?, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let handle = try Handles.get(engine, as: EngineHandle.self, "engine")
        let keys = try Handles.get(storage, as: StorageHandle.self, "storage")
        guard let step else { throw CFailure.null("step") }
        let received = try bytes(message, length, "message")
        let result = try keys.withNegentropyStorage { try handle.reconciler.reconcile(received, storage: $0) }
        step.pointee = Buffers.step(next: result.nextMessage, have: result.have, need: result.need)
    }
}

@_cdecl("storesync_waku_engine_new")
public func cWakuEngineNew(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ error: ErrorOut) -> storesync_status {
    exported(error) {
        try Handles.output(out, "out") { WakuEngineHandle() }
    }
}

@_cdecl("storesync_waku_engine_free")
public func cWakuEngineFree(_ engine: OpaquePointer?) {
    Handles.release(engine)
}

@_cdecl("storesync_waku_engine_initiate")
public func cWakuEngineInitiate(
    _ engine: OpaquePointer?, _ storage: OpaquePointer?, _ start: UInt64, _ end: UInt64,
    _ payload: UnsafeMutablePointer<storesync_buffer>?, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let handle = try Handles.get(engine, as: WakuEngineHandle.self, "engine")
        let keys = try Handles.get(storage, as: StorageHandle.self, "storage")
        guard let payload else { throw CFailure.null("payload") }
        guard start <= end else { throw CFailure.invalid("a window ends at or after its start") }
        let first = try keys.withXorStorage { try handle.reconciler.initiate(window: start...end, storage: $0) }
        payload.pointee = Buffers.buffer(first)
    }
}

@_cdecl("storesync_waku_engine_receive")
public func cWakuEngineReceive(
    _ engine: OpaquePointer?, _ storage: OpaquePointer?, _ payload: UnsafePointer<UInt8>?, _ length: Int,
    _ step: UnsafeMutablePointer<storesync_step>?, _ done: UnsafeMutablePointer<Int32>?, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        let handle = try Handles.get(engine, as: WakuEngineHandle.self, "engine")
        let keys = try Handles.get(storage, as: StorageHandle.self, "storage")
        guard let step else { throw CFailure.null("step") }
        guard let done else { throw CFailure.null("done") }
        let received = try bytes(payload, length, "payload")
        let result = try keys.withXorStorage { try handle.reconciler.receive(received, storage: $0) }
        step.pointee = Buffers.step(next: result.reply, have: result.have, need: result.need)
        done.pointee = result.isDone ? 1 : 0
    }
}

@_cdecl("storesync_message_hash")
public func cMessageHash(
    _ pubsubTopic: UnsafePointer<CChar>?, _ contentTopic: UnsafePointer<CChar>?, _ payload: UnsafePointer<UInt8>?,
    _ payloadLength: Int, _ meta: UnsafePointer<UInt8>?, _ metaLength: Int, _ timestamp: Int64,
    _ out: UnsafeMutablePointer<UInt8>?, _ error: ErrorOut
) -> storesync_status {
    exported(error) {
        guard let out else { throw CFailure.null("out") }
        let message = try WakuMessage(
            pubsubTopic: try string(pubsubTopic, "pubsub_topic"),
            contentTopic: try string(contentTopic, "content_topic"),
            payload: try bytes(payload, payloadLength, "payload"),
            meta: meta == nil ? nil : try bytes(meta, metaLength, "meta"), timestamp: timestamp)
        let hash = message.hash.bytes
        for index in 0..<32 { out[index] = hash[index] }
    }
}
