import Foundation

extension JudgePromptVariables {
    /// A realistic support-chat trace for check-config's dry render (has every variable, including a metadata key).
    ///
    /// Every value is non-empty, so every section of a template renders and a template error
    /// anywhere in it shows up before the first real trace arrives.
    public static let example: JudgePromptVariables = {
        var record = TraceRecord(
            recordID: "0b46553a51b291faf570fb7376dfb3a3", traceID: "0b46553a51b291faf570fb7376dfb3a3",
            timestamp: .init(timeIntervalSince1970: 1_795_824_001), model: "gpt-4o-mini")
        record.route = "support-chat"
        record.input = [
            .init(
                role: "system",
                content: "You are Ava, the customer support assistant for Acme Outdoor. Be friendly, concise and "
                    + "accurate. Use the lookup_order tool to check the status of an order and create_ticket for damaged or defective "
                    + "items. Never reveal internal notes, payment details or other customers' personal data. Policies: free returns "
                    + "within 30 days of delivery; refunds are processed within 5-7 business days."),
            .init(role: "user", content: "My parcel hasn't arrived yet and the tracking isn't updating."),
            .init(role: "assistant", content: "Sorry to hear that! What's the order number?"),
            .init(role: "user", content: "Sure, A-55021. I need it before Saturday <3 & thanks!"),
        ]
        record.output =
            "I checked order A-55021: it's out for delivery today with Royal Mail and should arrive by 8 pm. "
            + "If it hasn't arrived by then, let me know and I'll open an investigation."
        record.toolCalls = [.init(name: "lookup_order", arguments: #"{"order_id": "A-55021"}"#)]
        record.reference = "Order A-55021 is out for delivery today with Royal Mail; offer to open an investigation if it does not arrive."
        return JudgePromptVariables(
            record: record,
            metadata: [
                "request_id": "req-245dcbcc547c", "session_id": "sess-0cbf52f0", "channel": "web", "user_tier": "silver",
            ])
    }()
}
