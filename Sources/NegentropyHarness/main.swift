import Foundation
import StoreSyncCore

// The conformance harness: the line protocol other implementations' test drivers speak.
//   in:  item,<timestamp>,<64 hex id> | seal | initiate | msg,<hex>
//   out: msg,<hex> | have,<hex> | need,<hex> | done
// FRAMESIZELIMIT sets the frame limit, NEGENTROPY_POLICY=adaptive the split policy.

struct HarnessError: Error, CustomStringConvertible {
    let line: Int
    let message: String
    var description: String { "line \(line): \(message)" }
}

func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func run() throws {
    let environment = ProcessInfo.processInfo.environment
    let frameSizeLimit = Int(environment["FRAMESIZELIMIT"] ?? "0") ?? 0
    let policyName = environment["NEGENTROPY_POLICY"] ?? SplitPolicy.reference.rawValue
    guard let policy = SplitPolicy(rawValue: policyName) else {
        throw HarnessError(line: 0, message: "NEGENTROPY_POLICY must be reference or adaptive, not \(policyName)")
    }

    var pending = [SyncKey]()
    var storage: SortedKeyStorage?
    var reconciler: Reconciler?
    var lineNumber = 0

    while let line = readLine(strippingNewline: true) {
        lineNumber += 1
        if line.isEmpty { continue }
        let fields = line.split(separator: ",", omittingEmptySubsequences: false)
        func fail(_ message: String) -> HarnessError { HarnessError(line: lineNumber, message: message) }

        switch fields[0] {
        case "item":
            guard storage == nil else { throw fail("item after seal") }
            guard fields.count == 3, let timestamp = UInt64(fields[1]), let id = MessageHash(hex: fields[2]) else {
                throw fail("expected item,<timestamp>,<64 hex digits>")
            }
            pending.append(SyncKey(timestamp: timestamp, hash: id))
        case "seal":
            guard storage == nil else { throw fail("sealed twice") }
            storage = SortedKeyStorage(pending)
            pending = []
            reconciler = try Reconciler(frameSizeLimit: frameSizeLimit, policy: policy)
        case "initiate":
            guard let storage, let reconciler else { throw fail("initiate before seal") }
            let message = try reconciler.initiate(storage)
            try checkFrame(message, limit: frameSizeLimit, fail: fail)
            emit("msg," + Hex.encode(message))
        case "msg":
            guard let storage, let reconciler else { throw fail("msg before seal") }
            guard fields.count == 2, let input = Hex.decode(fields[1]) else { throw fail("expected msg,<hex>") }
            let output: [UInt8]
            if reconciler.role == .initiator {
                let step = try reconciler.reconcile(input, storage: storage)
                for id in step.have { emit("have," + id.hex) }
                for id in step.need { emit("need," + id.hex) }
                guard let next = step.nextMessage else {
                    emit("done")
                    continue
                }
                output = next
            } else {
                output = try reconciler.respond(to: input, storage: storage)
            }
            try checkFrame(output, limit: frameSizeLimit, fail: fail)
            emit("msg," + Hex.encode(output))
        default:
            throw fail("unknown command \(fields[0])")
        }
    }
}

func checkFrame(_ message: [UInt8], limit: Int, fail: (String) -> HarnessError) throws {
    if limit != 0 && message.count > limit {
        throw fail("produced a message of \(message.count) bytes, over the frame limit \(limit)")
    }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("negentropy-harness: \(error)\n".utf8))
    exit(1)
}
