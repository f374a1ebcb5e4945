import Foundation
import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncProto

// libFuzzer target for the node's decoders: frame bodies (hello, data, error, end), transfer
// requests, the reconcile header, store counts, and Store v3 requests answered against a small
// LMDB store. The first input byte picks the decoder. Beyond "no crash": frames, transfer requests
// and reconcile headers that decode re-encode to bytes that decode to the same value, and a Store
// v3 answer is always a status in {200, 400, 503} with at most 100 messages, in forward order.
// Built with -DFUZZING it runs libFuzzer's driver; otherwise it replays the files it is given.

let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("node-fuzz-\(getpid())").path
let store: MessageStore = {
    do {
        let store = try MessageStore(StoreConfiguration(directory: storeDirectory, durability: .noSync))
        var rng = SplitMix64(seed: 1)
        let messages = try (0..<200).map { index in
            try WakuMessage(
                pubsubTopic: "/waku/2/rs/0/\(index % 2)", contentTopic: "/f/1/c\(index % 3)/proto",
                payload: (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, timestamp: Int64(index) * 1_000)
        }
        _ = try store.ingest(messages)
        return store
    } catch {
        FileHandle.standardError.write(Data("node-fuzz: cannot set up its store: \(error)\n".utf8))
        exit(2)
    }
}()

func check(_ condition: Bool, _ message: String) {
    if !condition {
        FileHandle.standardError.write(Data("property violated: \(message)\n".utf8))
        abort()
    }
}

func fuzzOne(_ bytes: [UInt8]) {
    guard let selector = bytes.first else { return }
    var body = ByteBuffer(bytes: bytes.dropFirst())
    switch selector % 5 {
    case 0:
        guard let frame = try? FrameDecoder.parse(&body) else { return }
        var encoded = ByteBuffer()
        FrameEncoder().encode(data: frame, out: &encoded)
        encoded.moveReaderIndex(forwardBy: 4)
        check((try? FrameDecoder.parse(&encoded)) == frame, "a frame re-encodes to itself")
    case 1:
        guard let request = try? TransferRequest(decoding: &body) else { return }
        var encoded = ByteBuffer()
        request.encode(into: &encoded)
        check((try? TransferRequest(decoding: &encoded)) == request, "a transfer request re-encodes to itself")
    case 2:
        guard let open = try? ReconcileOpen(decoding: &body) else { return }
        var encoded = ByteBuffer()
        open.encode(into: &encoded)
        check((try? ReconcileOpen(decoding: &encoded)) == open, "a reconcile header re-encodes to itself")
    case 3:
        _ = try? StoreCounts(decoding: &body)
    default:
        guard let request = try? Waku_Store_V3_StoreQueryRequest(serializedBytes: Array(bytes.dropFirst())) else {
            return
        }
        let response = StoreQuery.answer(request, store: store)
        check([200, 400, 503].contains(response.statusCode), "status is 200, 400 or 503")
        check(response.messages.count <= StoreQuery.maximumPageSize, "a page holds at most 100 messages")
        check(response.requestID == request.requestID, "the request id is echoed")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    fuzzOne(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    func llvmFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    _ = store
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    let status = llvmFuzzerRunDriver(&argc, &argv, fuzzerTestOneInput)
    try? FileManager.default.removeItem(atPath: storeDirectory)
    exit(status)
#else
    var replayed = 0
    for path in CommandLine.arguments.dropFirst() {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            FileHandle.standardError.write(Data("no such file: \(path)\n".utf8))
            exit(2)
        }
        let files =
            isDirectory.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
            : [path]
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            fuzzOne(Array(data))
            replayed += 1
        }
    }
    try? FileManager.default.removeItem(atPath: storeDirectory)
    print("replayed \(replayed) inputs without a failure")
#endif
