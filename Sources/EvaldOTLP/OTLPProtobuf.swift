import EvaldCore
import Foundation
import SwiftProtobuf

/// OTLP/HTTP's protobuf encoding (`application/x-protobuf`, what SDK exporters send by
/// default), turned into the OTLP/JSON the spool holds (the OTLP specification's JSON mapping:
/// hex `traceId`/`spanId`, enums as integers, 64-bit integers as decimal strings, default
/// values left out), and the answers encoded back.
public enum OTLPProtobuf {
    public struct DecodeFailure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The OTLP/JSON form of a protobuf `ExportTraceServiceRequest`.
    public static func requestJSON(_ body: [UInt8]) throws(DecodeFailure) -> JSONValue {
        let request: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
        do {
            request = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: body)
        } catch {
            throw DecodeFailure(description: "not a protobuf ExportTraceServiceRequest (\(error))")
        }
        return .object([("resourceSpans", .array(request.resourceSpans.map(json)))])
    }

    /// An `ExportTraceServiceResponse`: empty, or with `partialSuccess` when spans were rejected.
    public static func response(rejectedSpans: Int64, errorMessage: String) -> [UInt8] {
        var response = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse()
        if rejectedSpans > 0 || !errorMessage.isEmpty {
            response.partialSuccess.rejectedSpans = rejectedSpans
            response.partialSuccess.errorMessage = errorMessage
        }
        let bytes: [UInt8]? = try? response.serializedBytes()
        return bytes ?? []
    }

    static func json(_ resourceSpans: Opentelemetry_Proto_Trace_V1_ResourceSpans) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        if resourceSpans.hasResource {
            var resource: [(String, JSONValue)] = [("attributes", attributes(resourceSpans.resource.attributes))]
            if resourceSpans.resource.droppedAttributesCount > 0 {
                resource.append(("droppedAttributesCount", .int(Int64(resourceSpans.resource.droppedAttributesCount))))
            }
            fields.append(("resource", .object(resource)))
        }
        fields.append(("scopeSpans", .array(resourceSpans.scopeSpans.map(json))))
        if !resourceSpans.schemaURL.isEmpty { fields.append(("schemaUrl", .string(resourceSpans.schemaURL))) }
        return .object(fields)
    }

    static func json(_ scopeSpans: Opentelemetry_Proto_Trace_V1_ScopeSpans) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        if scopeSpans.hasScope {
            let scope = scopeSpans.scope
            var object: [(String, JSONValue)] = [("name", .string(scope.name))]
            if !scope.version.isEmpty { object.append(("version", .string(scope.version))) }
            if !scope.attributes.isEmpty { object.append(("attributes", attributes(scope.attributes))) }
            if scope.droppedAttributesCount > 0 { object.append(("droppedAttributesCount", .int(Int64(scope.droppedAttributesCount)))) }
            fields.append(("scope", .object(object)))
        }
        fields.append(("spans", .array(scopeSpans.spans.map(json))))
        if !scopeSpans.schemaURL.isEmpty { fields.append(("schemaUrl", .string(scopeSpans.schemaURL))) }
        return .object(fields)
    }

    static func json(_ span: Opentelemetry_Proto_Trace_V1_Span) -> JSONValue {
        var fields: [(String, JSONValue)] = [("traceId", .string(hex(span.traceID))), ("spanId", .string(hex(span.spanID)))]
        if !span.traceState.isEmpty { fields.append(("traceState", .string(span.traceState))) }
        if !span.parentSpanID.isEmpty { fields.append(("parentSpanId", .string(hex(span.parentSpanID)))) }
        if span.flags != 0 { fields.append(("flags", .int(Int64(span.flags)))) }
        fields.append(("name", .string(span.name)))
        if span.kind.rawValue != 0 { fields.append(("kind", .int(Int64(span.kind.rawValue)))) }
        fields.append(("startTimeUnixNano", .string(String(span.startTimeUnixNano))))
        fields.append(("endTimeUnixNano", .string(String(span.endTimeUnixNano))))
        if !span.attributes.isEmpty { fields.append(("attributes", attributes(span.attributes))) }
        if span.droppedAttributesCount > 0 { fields.append(("droppedAttributesCount", .int(Int64(span.droppedAttributesCount)))) }
        if !span.events.isEmpty {
            fields.append(
                (
                    "events",
                    .array(
                        span.events.map { event in
                            var object: [(String, JSONValue)] = [("timeUnixNano", .string(String(event.timeUnixNano))), ("name", .string(event.name))]
                            if !event.attributes.isEmpty { object.append(("attributes", attributes(event.attributes))) }
                            if event.droppedAttributesCount > 0 { object.append(("droppedAttributesCount", .int(Int64(event.droppedAttributesCount)))) }
                            return .object(object)
                        })
                ))
        }
        if span.droppedEventsCount > 0 { fields.append(("droppedEventsCount", .int(Int64(span.droppedEventsCount)))) }
        if !span.links.isEmpty {
            fields.append(
                (
                    "links",
                    .array(
                        span.links.map { link in
                            var object: [(String, JSONValue)] = [("traceId", .string(hex(link.traceID))), ("spanId", .string(hex(link.spanID)))]
                            if !link.traceState.isEmpty { object.append(("traceState", .string(link.traceState))) }
                            if !link.attributes.isEmpty { object.append(("attributes", attributes(link.attributes))) }
                            if link.droppedAttributesCount > 0 { object.append(("droppedAttributesCount", .int(Int64(link.droppedAttributesCount)))) }
                            if link.flags != 0 { object.append(("flags", .int(Int64(link.flags)))) }
                            return .object(object)
                        })
                ))
        }
        if span.droppedLinksCount > 0 { fields.append(("droppedLinksCount", .int(Int64(span.droppedLinksCount)))) }
        var status: [(String, JSONValue)] = []
        if !span.status.message.isEmpty { status.append(("message", .string(span.status.message))) }
        if span.status.code.rawValue != 0 { status.append(("code", .int(Int64(span.status.code.rawValue)))) }
        fields.append(("status", .object(status)))
        return .object(fields)
    }

    static func attributes(_ list: [Opentelemetry_Proto_Common_V1_KeyValue]) -> JSONValue {
        .array(list.map { .object([("key", .string($0.key)), ("value", value($0.value))]) })
    }

    static func value(_ any: Opentelemetry_Proto_Common_V1_AnyValue) -> JSONValue {
        switch any.value {
        case .stringValue(let s)?: return .object([("stringValue", .string(s))])
        case .boolValue(let b)?: return .object([("boolValue", .bool(b))])
        case .intValue(let i)?: return .object([("intValue", .string(String(i)))])
        case .doubleValue(let d)?: return .object([("doubleValue", .double(d))])
        case .arrayValue(let array)?: return .object([("arrayValue", .object([("values", .array(array.values.map(value)))]))])
        case .kvlistValue(let list)?: return .object([("kvlistValue", .object([("values", attributes(list.values))]))])
        case .bytesValue(let data)?: return .object([("bytesValue", .string(data.base64EncodedString()))])
        // Only profiles use string tables; a trace's AnyValue never should.
        case .stringValueStrindex?, nil: return .object([])
        }
    }

    static func hex(_ data: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(data.count * 2)
        for byte in data {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
