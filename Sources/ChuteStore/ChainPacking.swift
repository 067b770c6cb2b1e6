import ChuteCore

/// An event's place in its chain as the stores keep it, in the one `chain_depth` integer (also a
/// 32-bit field of event batch rows): the depth in the low 8 bits, the chain allowance plus one
/// above them (0 when the event has none: a client's event). Rows written before allowances
/// existed hold the depth alone and read back as events without one.
enum ChainPacking {
    static let maximumAllowance = (1 << 23) - 2

    static func pack(_ event: AsyncEvent) -> Int64 {
        let depth = Int64(min(max(event.chainDepth, 0), 255))
        let allowance = event.chainAllowance.map { Int64(min(max($0, 0), maximumAllowance) + 1) } ?? 0
        return depth | allowance << 8
    }

    static func unpack(_ value: Int64, into event: inout AsyncEvent) {
        event.chainDepth = Int(value & 0xFF)
        let allowance = (value >> 8) & 0x7F_FFFF
        event.chainAllowance = allowance == 0 ? nil : Int(allowance - 1)
    }
}
