import Foundation
import StoreSyncCore

/// A progress line on standard error for long work. On a terminal it is rewritten in place, at
/// most five times a second; otherwise a line is written every `interval` seconds (and at the
/// end), so that logs show signs of life without filling up.
final class Progress {
    private let interactive = isatty(STDERR_FILENO) != 0
    private let interval: Duration
    private let clock = ContinuousClock()
    private var lastShown: ContinuousClock.Instant?
    private var shownText = false

    init(interval: Duration = .seconds(5)) {
        self.interval = interval
    }

    /// Shows `line` if it is time to (always when `final`).
    func show(_ line: @autoclosure () -> String, final: Bool = false) {
        let now = clock.now
        let gap = interactive ? .milliseconds(200) : interval
        if !final, let lastShown, now - lastShown < gap { return }
        lastShown = now
        let text = line()
        if interactive {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)\(final ? "\n" : "")".utf8))
        } else {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
        shownText = true
    }

    /// A count of `done` out of `total`, with its percentage.
    func update(_ label: String, done: Int, total: Int) {
        show("\(label): \(done)/\(total) (\(done * 100 / max(total, 1))%)", final: done == total)
    }
}

/// A byte count for people: 512 B, 1.5 MB, 2.3 GB.
func humanBytes(_ bytes: Int) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1_000 && unit < units.count - 1 {
        value /= 1_000
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// A duration for people: 45 s, 3 min 20 s, 2 h 5 min.
func humanSeconds(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    if total < 60 { return "\(total) s" }
    if total < 3_600 { return "\(total / 60) min \(total % 60) s" }
    return "\(total / 3_600) h \(total % 3_600 / 60) min"
}
