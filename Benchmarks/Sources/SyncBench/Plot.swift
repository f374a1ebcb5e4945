import Foundation

/// Line charts as SVG on log-log axes, one line per series.
enum Plot {
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#7f7f7f", "#9467bd"]

    static func svg(title: String, xLabel: String, yLabel: String, series: [(String, [(Double, Double)])]) -> String {
        let width = 760.0
        let height = 460.0
        let (left, right, top, bottom) = (80.0, 190.0, 40.0, 60.0)
        let points = series.flatMap(\.1).filter { $0.0 > 0 && $0.1 > 0 }
        let xs = points.map { log10($0.0) }
        let ys = points.map { log10($0.1) }
        let xRange = (floor(xs.min() ?? 0), ceil(max(xs.max() ?? 1, (xs.min() ?? 0) + 1)))
        let yRange = (floor(ys.min() ?? 0), ceil(max(ys.max() ?? 1, (ys.min() ?? 0) + 1)))
        func x(_ value: Double) -> Double {
            left + (log10(value) - xRange.0) / (xRange.1 - xRange.0) * (width - left - right)
        }
        func y(_ value: Double) -> Double {
            height - bottom - (log10(value) - yRange.0) / (yRange.1 - yRange.0) * (height - top - bottom)
        }
        var out = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text x=\"\(width / 2 - right / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(title)</text>",
        ]
        for power in Int(xRange.0)...Int(xRange.1) {
            let position = x(pow(10, Double(power)))
            out.append(
                "<line x1=\"\(position)\" y1=\"\(top)\" x2=\"\(position)\" y2=\"\(height - bottom)\" stroke=\"#ddd\"/>")
            out.append(
                "<text x=\"\(position)\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">1e\(power)</text>")
        }
        for power in Int(yRange.0)...Int(yRange.1) {
            let position = y(pow(10, Double(power)))
            out.append(
                "<line x1=\"\(left)\" y1=\"\(position)\" x2=\"\(width - right)\" y2=\"\(position)\" stroke=\"#ddd\"/>")
            out.append("<text x=\"\(left - 8)\" y=\"\(position + 4)\" text-anchor=\"end\">1e\(power)</text>")
        }
        out.append(
            "<text x=\"\(left + (width - left - right) / 2)\" y=\"\(height - 15)\" text-anchor=\"middle\">\(xLabel)</text>"
        )
        out.append(
            "<text x=\"18\" y=\"\(top + (height - top - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(top + (height - top - bottom) / 2))\">\(yLabel)</text>"
        )
        for (index, (name, data)) in series.enumerated() {
            let color = colors[index % colors.count]
            let visible = data.filter { $0.0 > 0 && $0.1 > 0 }
            let path = visible.map { "\(x($0.0)),\(y($0.1))" }.joined(separator: " ")
            out.append("<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            for point in visible {
                out.append("<circle cx=\"\(x(point.0))\" cy=\"\(y(point.1))\" r=\"3\" fill=\"\(color)\"/>")
            }
            let legendY = top + 10 + Double(index) * 20
            out.append(
                "<line x1=\"\(width - right + 15)\" y1=\"\(legendY)\" x2=\"\(width - right + 40)\" y2=\"\(legendY)\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            )
            out.append("<text x=\"\(width - right + 46)\" y=\"\(legendY + 4)\">\(name)</text>")
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}
