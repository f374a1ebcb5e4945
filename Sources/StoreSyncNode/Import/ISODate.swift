import Foundation

/// A timestamp in ns as ISO 8601 (UTC), with milliseconds when `fractional`: for log lines and
/// the command line.
public func isoDate(_ nanoseconds: UInt64, fractional: Bool = false) -> String {
    let formatter = ISO8601DateFormatter()
    if fractional { formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds] }
    return formatter.string(from: Date(timeIntervalSince1970: Double(nanoseconds) / 1e9))
}
