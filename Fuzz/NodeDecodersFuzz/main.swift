import Foundation
import FuzzSupport
import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncProto

// libFuzzer target for the node's decoders: frame bodies (hello, data, error, end), transfer
// requests, the reconcile header, store counts, Store v3 requests answered against a small LMDB
// store, and count requests (answered against it too) and answers. The first input byte picks
// the decoder. Beyond "no crash": frames, transfer requests, reconcile headers and count
// requests and answers that decode re-encode to bytes that decode to the same value; a Store v3
// answer is always a status in {200, 400, 503} with at most 100 messages, in forward order; a
// count answer has one bucket per bucket asked for, or at most the page limit of keys, ascending,
// inside the time range. Selector 7: a JSON Lines import file; every message read writes back to
// a line that reads as the same message, and line numbers are ascending. Selector 8: a
// StoreQueryResponse as pushes, transfer answers and Store v3 answers carry it; every entry that
// converts to a message converts back to a protobuf entry that converts to the same message, and
// its hash is the one recomputed from the re-encoded entry. Selector 3 also decodes a store-sync
// transfer message (`{pubsub topic, WakuMessage}`), which re-encodes to itself.

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

func fuzzOne(_ bytes: [UInt8]) {
    guard let selector = bytes.first else { return }
    var body = ByteBuffer(bytes: bytes.dropFirst())
    switch selector % 9 {
    case 0:
        guard let frame = try? FrameDecoder.parse(&body) else { return }
        var encoded = ByteBuffer()
        FrameEncoder().encode(data: frame, out: &encoded)
        encoded.moveReaderIndex(forwardBy: 4)
        fuzzCheck((try? FrameDecoder.parse(&encoded)) == frame, "a frame re-encodes to itself")
    case 1:
        guard let request = try? TransferRequest(decoding: &body) else { return }
        var encoded = ByteBuffer()
        request.encode(into: &encoded)
        fuzzCheck((try? TransferRequest(decoding: &encoded)) == request, "a transfer request re-encodes to itself")
    case 2:
        guard let open = try? ReconcileOpen(decoding: &body) else { return }
        var encoded = ByteBuffer()
        open.encode(into: &encoded)
        fuzzCheck((try? ReconcileOpen(decoding: &encoded)) == open, "a reconcile header re-encodes to itself")
    case 3:
        _ = try? StoreCounts(decoding: &body)
        // The same bytes as a store-sync transfer message.
        guard let transfer = try? StoreSyncTransfer(decoding: Array(bytes.dropFirst())) else { return }
        fuzzCheck(
            (try? StoreSyncTransfer(decoding: transfer.encoded)) == transfer, "a transfer message re-encodes to itself")
    case 5:
        guard let request = try? CountRequest(decoding: &body) else { return }
        var encoded = ByteBuffer()
        request.encode(into: &encoded)
        fuzzCheck((try? CountRequest(decoding: &encoded)) == request, "a count request re-encodes to itself")
        checkCountAnswer(request)
    case 7:
        let read = JSONLines(data: Data(bytes.dropFirst()))
        let numbers = read.messages.map(\.line) + read.rejected.map(\.line)
        fuzzCheck(Set(numbers).count == numbers.count, "each line is read once")
        fuzzCheck(zip(read.messages, read.messages.dropFirst()).allSatisfy { $0.line < $1.line }, "lines ascend")
        for (_, message) in read.messages {
            let again = JSONLines(data: Data(JSONLines.line(message).utf8))
            fuzzCheck(
                again.messages.map(\.message) == [message], "a message read from JSON Lines writes back to itself")
        }
    case 8:
        guard let response = try? Waku_Store_V3_StoreQueryResponse(serializedBytes: Array(bytes.dropFirst())) else {
            return
        }
        for entry in response.messages where entry.hasMessage {
            guard let message = try? WakuMessage(proto: entry.message, pubsubTopic: entry.pubsubTopic) else { continue }
            let hash = message.hash
            let reencoded = message.keyValue(hash: hash)
            guard let serialized = try? reencoded.serializedBytes() as [UInt8],
                let decoded = try? Waku_Store_V3_WakuMessageKeyValue(serializedBytes: serialized),
                let again = try? WakuMessage(proto: decoded.message, pubsubTopic: decoded.pubsubTopic)
            else {
                fuzzCheck(false, "a converted message re-encodes and converts back")
                continue
            }
            fuzzCheck(again == message, "a message converts back to itself")
            fuzzCheck(Array(decoded.messageHash) == again.hash.bytes, "the carried hash is the message's hash")
        }
    case 6:
        guard let response = try? CountResponse(decoding: &body) else { return }
        var encoded = ByteBuffer()
        response.encode(into: &encoded)
        fuzzCheck((try? CountResponse(decoding: &encoded)) == response, "a count answer re-encodes to itself")
    default:
        let response = answerStoreQuery(Array(bytes.dropFirst()))
        fuzzCheck([200, 400, 503].contains(response.statusCode), "status is 200, 400 or 503")
        fuzzCheck(response.messages.count <= StoreQuery.maximumPageSize, "a page holds at most 100 messages")
        guard let request = try? Waku_Store_V3_StoreQueryRequest(serializedBytes: Array(bytes.dropFirst())) else {
            fuzzCheck(response.statusCode == 400, "a malformed request is a 400")
            return
        }
        fuzzCheck(response.requestID == request.requestID, "the request id is echoed")
    }
}

func checkCountAnswer(_ request: CountRequest) {
    guard let response = try? request.answer(store: store) else {
        fuzzCheck(false, "a decoded count request is answered")
        return
    }
    switch (request, response) {
    case (.buckets(let filter, let width), .buckets(let buckets)):
        let span = filter.timeRange.upperBound - filter.timeRange.lowerBound
        fuzzCheck(UInt64(buckets.count) == span / width + (span % width == 0 ? 0 : 1), "one count per bucket")
    case (.keys(let filter, _, let limit), .keys(let keys, _)):
        fuzzCheck(keys.count <= limit, "a key page holds at most its limit")
        fuzzCheck(zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 }, "keys ascend")
        fuzzCheck(keys.allSatisfy { filter.timeRange.contains($0.timestamp) }, "keys lie in the time range")
    default:
        fuzzCheck(false, "the answer is of the request's kind")
    }
}

/// Answers a Store v3 request on the node's path, which is async: libFuzzer calls on a thread of
/// its own, which waits for the answer. The answer is moved out of the box the task fills, so that
/// every part of it is freed on this thread before the input ends: the task may still be releasing
/// the box when libFuzzer looks for leaks, and an answer freed there at that moment reads as leaked.
func answerStoreQuery(_ serialized: [UInt8]) -> Waku_Store_V3_StoreQueryResponse {
    final class Answer: @unchecked Sendable {
        var response = Waku_Store_V3_StoreQueryResponse()
    }
    let answer = Answer()
    let done = DispatchSemaphore(value: 0)
    Task {
        answer.response = await StoreQuery.answer(serialized: serialized, archive: store)
        done.signal()
    }
    done.wait()
    var response = Waku_Store_V3_StoreQueryResponse()
    swap(&response, &answer.response)
    return response
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    fuzzOne(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

_ = store
runFuzzTarget(callback: fuzzerTestOneInput, fuzzOne: fuzzOne) {
    try? FileManager.default.removeItem(atPath: storeDirectory)
}
