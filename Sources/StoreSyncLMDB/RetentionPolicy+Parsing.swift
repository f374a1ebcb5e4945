import Foundation

/// Why a retention setting does not parse.
public struct RetentionPolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The setting as given.
    public let setting: String
    /// What is wrong with it.
    public let reason: String

    public var description: String {
        "retention '\(setting)': \(reason) (use time:<seconds>, capacity:<count>, size:<n>mb|gb or none)"
    }
}

extension RetentionPolicy {
    /// Parses settings as the reference node writes them, each `time:<seconds>`,
    /// `capacity:<count>`, `size:<n>mb` or `size:<n>gb` (powers of 1024), or `none`; several
    /// may be given, one per element or separated by commas or semicolons.
    public static func parse(_ settings: [String]) throws(RetentionPolicyError) -> RetentionPolicy {
        var policy = RetentionPolicy()
        let parts = settings.flatMap { $0.split(whereSeparator: { $0 == "," || $0 == ";" }) }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        for part in parts where !part.isEmpty {
            if part.lowercased() == "none" {
                guard parts.count == 1 else {
                    throw RetentionPolicyError(setting: part, reason: "none cannot be combined with other settings")
                }
                return .none
            }
            guard let colon = part.firstIndex(of: ":") else {
                throw RetentionPolicyError(setting: part, reason: "expected kind:value")
            }
            let kind = part[..<colon].lowercased()
            let value = String(part[part.index(after: colon)...]).lowercased()
            switch kind {
            case "time":
                guard let seconds = UInt64(value), seconds > 0 else {
                    throw RetentionPolicyError(setting: part, reason: "the age must be a positive number of seconds")
                }
                policy.maximumAgeSeconds = seconds
            case "capacity":
                guard let count = Int(value), count > 0 else {
                    throw RetentionPolicyError(setting: part, reason: "the capacity must be a positive count")
                }
                policy.maximumCount = count
            case "size":
                policy.maximumBytes = try parseSize(value, setting: part)
            default:
                throw RetentionPolicyError(setting: part, reason: "unknown kind '\(kind)'")
            }
        }
        return policy
    }

    private static func parseSize(_ value: String, setting: String) throws(RetentionPolicyError) -> Int {
        let units: [(String, Int)] = [("mb", 20), ("gb", 30)]
        guard let (unit, shift) = units.first(where: { value.hasSuffix($0.0) }),
            let amount = Int(value.dropLast(unit.count)), amount > 0
        else {
            throw RetentionPolicyError(setting: setting, reason: "the size must be a positive whole number of mb or gb")
        }
        guard amount <= (Int.max >> shift) >> 1 else {
            throw RetentionPolicyError(setting: setting, reason: "the size is too large")
        }
        return amount << shift
    }
}
