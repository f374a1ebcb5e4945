import Foundation
import StoreSyncCore

/// Messages read from a JSON Lines file (`storesync import` and `push`): one object a line with
/// `pubsub_topic`, `content_topic`, `payload` (base64), optional `meta` (base64), `timestamp`
/// (ns) and optional `ephemeral`. Bad lines are reported with their numbers, not fatal.
public struct JSONLines: Sendable {
    struct Line: Codable {
        let pubsubTopic: String
        let contentTopic: String
        let payload: String
        let meta: String?
        let timestamp: Int64
        let ephemeral: Bool?

        enum CodingKeys: String, CodingKey {
            case pubsubTopic = "pubsub_topic"
            case contentTopic = "content_topic"
            case payload, meta, timestamp, ephemeral
        }
    }

    /// The longest line accepted, in bytes.
    public static let maximumLineLength = 8 << 20

    /// The messages read, with their line numbers (from 1).
    public var messages: [(line: Int, message: WakuMessage)] = []
    /// The lines refused, with why.
    public var rejected: [(line: Int, reason: String)] = []

    /// Reads a file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationErrorText("cannot read \(path): check that the file exists and is readable")
        }
        self.init(data: data)
    }

    /// Reads lines from bytes, numbering them from `firstLine`.
    public init(data: Data, firstLine: Int = 1) {
        let decoder = JSONDecoder()
        var number = firstLine - 1
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            if raw.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            guard raw.count <= Self.maximumLineLength else {
                rejected.append((number, "line longer than \(Self.maximumLineLength) bytes"))
                continue
            }
            do {
                let line = try decoder.decode(Line.self, from: Data(raw))
                guard let payload = Data(base64Encoded: line.payload) else {
                    throw ValidationErrorText("payload is not base64")
                }
                var meta: [UInt8]?
                if let text = line.meta {
                    guard let decoded = Data(base64Encoded: text) else {
                        throw ValidationErrorText("meta is not base64")
                    }
                    meta = Array(decoded)
                }
                let message = try WakuMessage(
                    pubsubTopic: line.pubsubTopic, contentTopic: line.contentTopic, payload: Array(payload), meta: meta,
                    timestamp: line.timestamp, ephemeral: line.ephemeral ?? false)
                messages.append((number, message))
            } catch let error as DecodingError {
                rejected.append((number, Self.describe(error)))
            } catch {
                rejected.append((number, "\(error)"))
            }
        }
    }

    /// A message as one line of this format (without the newline).
    public static func line(_ message: WakuMessage) -> String {
        let line = Line(
            pubsubTopic: message.pubsubTopic, contentTopic: message.contentTopic,
            payload: Data(message.payload).base64EncodedString(),
            meta: message.meta.map { Data($0).base64EncodedString() }, timestamp: message.timestamp,
            ephemeral: message.ephemeral ? true : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(line)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing field \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case .dataCorrupted: "not a JSON object"
        @unknown default: "\(error)"
        }
    }
}

/// An error whose text is the whole message.
public struct ValidationErrorText: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
