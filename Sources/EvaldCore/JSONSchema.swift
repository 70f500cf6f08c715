/// A JSON Schema validator for the `json_schema` and `tool_calls` checks: a draft 2020-12 subset.
///
/// Supported keywords:
/// - any instance: `type` (a name or an array of names; `integer` is any number without a fractional part,
///   so `1.0` is an integer), `enum`, `const` (JSON equality: `1 == 1.0`, object members unordered,
///   `true != 1`), `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, boolean schemas `true`/`false`;
/// - objects: `properties`, `patternProperties`, `additionalProperties`, `required`, `dependentRequired`,
///   `dependentSchemas`, `propertyNames`, `minProperties`, `maxProperties`;
/// - arrays: `prefixItems`, `items` (2020-12 meaning: the elements after `prefixItems`), `contains`,
///   `minContains`, `maxContains`, `minItems`, `maxItems`, `uniqueItems`;
/// - numbers: `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`;
/// - strings: `minLength`, `maxLength` (Unicode code points), `pattern` (NSRegularExpression/ICU syntax, not
///   anchored);
/// - `$ref` to a JSON pointer within the same document (`#`, `#/$defs/NAME`, `#/definitions/NAME`,
///   `#/properties/foo`, percent- and `~0`/`~1`-escaped), next to sibling keywords as 2020-12 says.
///
/// Other keywords are annotations and are ignored (`title`, `description`, `format`, `default`, `$schema`,
/// `$id`, `$anchor`, `$comment`, `content*`, ...). A schema that needs something this validator cannot do
/// is rejected when compiled rather than validated wrongly: a `$ref` that is not a local JSON pointer
/// (remote, `$id`-relative, `$anchor`), a `$ref` inside a subschema with its own `$id`, `$dynamicRef`,
/// `$recursiveRef`, `unevaluatedProperties` and `unevaluatedItems`; so is a `$ref` cycle that never
/// descends into the instance (it would recurse forever).
import Foundation

/// A schema that cannot be compiled. `path` is a JSON pointer into the schema ("" for its root).
public struct JSONSchemaError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "schema at \(JSONSchema.displayPointer(path)): \(message)" }
}

/// One reason an instance does not validate.
public struct JSONSchemaViolation: Sendable, Equatable, CustomStringConvertible {
    /// A JSON pointer into the instance, "" for the root, e.g. "/items/0/qty".
    public var instancePath: String
    /// The keyword that failed, e.g. "required", "type"; "false" for a `false` schema.
    public var keyword: String
    /// Short, for an on-call engineer, and starting with the instance path:
    /// `"/items/0/qty": 0 is less than minimum 1` (the root is shown as `(root)`).
    public var message: String

    public init(instancePath: String, keyword: String, message: String) {
        self.instancePath = instancePath
        self.keyword = keyword
        self.message = message
    }

    public var description: String { message }
}

/// A compiled schema. Compile once (`init` checks every keyword value), validate many times; immutable
/// and safe to share between tasks.
public struct JSONSchema: Sendable {
    private let nodes: [SchemaNode]
    private let root: Int

    public init(_ schema: JSONValue) throws(JSONSchemaError) {
        var compiler = Compiler(document: schema)
        root = try compiler.compile(schema, at: [])
        try compiler.rejectInPlaceCycles()
        nodes = compiler.nodes.map(SchemaNode.init)
    }

    /// Every violation found (empty when the instance is valid). Inside `anyOf`, `oneOf`, `not`, `if`,
    /// `contains` and `propertyNames` the alternatives are summarised by one violation of that keyword.
    public func validate(_ instance: JSONValue) -> [JSONSchemaViolation] {
        var context = Context(collect: true)
        _ = evaluate(root, instance, &context)
        return context.violations
    }

    /// Whether the instance is valid; stops at the first violation.
    public func isValid(_ instance: JSONValue) -> Bool {
        var context = Context(collect: false)
        return evaluate(root, instance, &context)
    }

    /// A JSON pointer for messages: quoted, the root as `(root)`.
    static func displayPointer(_ pointer: String) -> String {
        pointer.isEmpty ? "(root)" : "\"\(pointer)\""
    }
}

// MARK: - Compiled form

/// A JSON number as written in a schema.
private enum SchemaNumber: Sendable, CustomStringConvertible {
    case int(Int64)
    case double(Double)

    init?(_ value: JSONValue) {
        switch value {
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        default: return nil
        }
    }

    var double: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        }
    }

    var description: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return formatNumber(d)
        }
    }
}

private struct SchemaTypeSet: OptionSet, Sendable {
    let rawValue: UInt8
    static let null = SchemaTypeSet(rawValue: 1)
    static let boolean = SchemaTypeSet(rawValue: 2)
    static let object = SchemaTypeSet(rawValue: 4)
    static let array = SchemaTypeSet(rawValue: 8)
    static let number = SchemaTypeSet(rawValue: 16)
    static let string = SchemaTypeSet(rawValue: 32)
    static let integer = SchemaTypeSet(rawValue: 64)

    static let names: [(String, SchemaTypeSet)] = [
        ("null", .null), ("boolean", .boolean), ("object", .object), ("array", .array),
        ("number", .number), ("string", .string), ("integer", .integer),
    ]

    func matches(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return contains(.null)
        case .bool: return contains(.boolean)
        case .object: return contains(.object)
        case .array: return contains(.array)
        case .string: return contains(.string)
        case .int: return contains(.number) || contains(.integer)
        case .double(let d): return contains(.number) || (contains(.integer) && d.isFinite && d == d.rounded(.towardZero))
        }
    }

    /// "an integer", "a string or null" (in the order the schema lists them).
    static func phrase(_ names: [String]) -> String {
        let words = names.map { name in
            switch name {
            case "null": return "null"
            case "integer", "object", "array": return "an \(name)"
            default: return "a \(name)"
            }
        }
        if words.count <= 1 { return words.first ?? "nothing" }
        return words.dropLast().joined(separator: ", ") + " or " + words.last!
    }
}

/// A (sub)schema while it is compiled: the compiler fills it in keyword by keyword, through a
/// reference, and `JSONSchema.init` freezes it into a `SchemaNode`.
private final class SchemaNodeDraft {
    var pointer: String
    /// For the boolean schemas `true` and `false`.
    var constant: Bool?

    var ref: Int?
    var types: SchemaTypeSet?
    var typeNames: [String] = []
    var enumValues: [JSONValue]?
    var constValue: JSONValue?
    var allOf: [Int] = []
    var anyOf: [Int] = []
    var oneOf: [Int] = []
    var not: Int?
    var ifSchema: Int?
    var thenSchema: Int?
    var elseSchema: Int?

    var properties: [ExactKey: Int] = [:]
    var patternProperties: [(regex: RegexBox, schema: Int)] = []
    var additionalProperties: Int?
    var required: [String] = []
    var dependentRequired: [(name: String, required: [String])] = []
    var dependentSchemas: [(name: String, schema: Int)] = []
    var propertyNamesSchema: Int?
    var minProperties: Int?
    var maxProperties: Int?

    var prefixItems: [Int] = []
    var items: Int?
    var contains: Int?
    var minContains: Int?
    var maxContains: Int?
    var minItems: Int?
    var maxItems: Int?
    var uniqueItems = false

    var minimum: SchemaNumber?
    var maximum: SchemaNumber?
    var exclusiveMinimum: SchemaNumber?
    var exclusiveMaximum: SchemaNumber?
    var multipleOf: SchemaNumber?

    var minLength: Int?
    var maxLength: Int?
    var pattern: RegexBox?

    init(pointer: String, constant: Bool? = nil) {
        self.pointer = pointer
        self.constant = constant
    }

    /// Which groups of keywords are present (set by `finish()`), so evaluation skips the rest cheaply.
    var checksValue = false
    var appliesInPlace = false
    var checksObjects = false
    var descendsIntoObjects = false
    var checksArrays = false
    var descendsIntoArrays = false
    var checksStrings = false
    var checksNumbers = false

    func finish() {
        checksValue = types != nil || enumValues != nil || constValue != nil
        appliesInPlace = !allOf.isEmpty || !anyOf.isEmpty || !oneOf.isEmpty || not != nil || ifSchema != nil
        checksObjects =
            !required.isEmpty || !dependentRequired.isEmpty || propertyNamesSchema != nil
            || minProperties != nil || maxProperties != nil
        descendsIntoObjects =
            !properties.isEmpty || !patternProperties.isEmpty || additionalProperties != nil
            || !dependentSchemas.isEmpty
        checksArrays = minItems != nil || maxItems != nil || uniqueItems || contains != nil
        descendsIntoArrays = !prefixItems.isEmpty || items != nil
        checksStrings = minLength != nil || maxLength != nil || pattern != nil
        checksNumbers =
            minimum != nil || maximum != nil || exclusiveMinimum != nil || exclusiveMaximum != nil
            || multipleOf != nil
    }

    /// Children evaluated against the same instance location (a cycle among these never terminates).
    var inPlaceChildren: [Int] {
        var out = allOf + anyOf + oneOf + dependentSchemas.map(\.schema)
        for child in [ref, not, ifSchema, thenSchema, elseSchema] { if let child { out.append(child) } }
        return out
    }
}

/// One compiled (sub)schema; children are indices into `JSONSchema.nodes`. A class so that evaluation
/// frames hold a reference rather than a copy; immutable, so it is shared between tasks as it is.
private final class SchemaNode: Sendable {
    let pointer: String
    let constant: Bool?
    let ref: Int?
    let types: SchemaTypeSet?
    let typeNames: [String]
    let enumValues: [JSONValue]?
    let constValue: JSONValue?
    let allOf: [Int]
    let anyOf: [Int]
    let oneOf: [Int]
    let not: Int?
    let ifSchema: Int?
    let thenSchema: Int?
    let elseSchema: Int?
    let properties: [ExactKey: Int]
    let patternProperties: [(regex: RegexBox, schema: Int)]
    let additionalProperties: Int?
    let required: [String]
    let dependentRequired: [(name: String, required: [String])]
    let dependentSchemas: [(name: String, schema: Int)]
    let propertyNamesSchema: Int?
    let minProperties: Int?
    let maxProperties: Int?
    let prefixItems: [Int]
    let items: Int?
    let contains: Int?
    let minContains: Int?
    let maxContains: Int?
    let minItems: Int?
    let maxItems: Int?
    let uniqueItems: Bool
    let minimum: SchemaNumber?
    let maximum: SchemaNumber?
    let exclusiveMinimum: SchemaNumber?
    let exclusiveMaximum: SchemaNumber?
    let multipleOf: SchemaNumber?
    let minLength: Int?
    let maxLength: Int?
    let pattern: RegexBox?
    let checksValue: Bool
    let appliesInPlace: Bool
    let checksObjects: Bool
    let descendsIntoObjects: Bool
    let checksArrays: Bool
    let descendsIntoArrays: Bool
    let checksStrings: Bool
    let checksNumbers: Bool

    init(_ draft: SchemaNodeDraft) {
        pointer = draft.pointer
        constant = draft.constant
        ref = draft.ref
        types = draft.types
        typeNames = draft.typeNames
        enumValues = draft.enumValues
        constValue = draft.constValue
        allOf = draft.allOf
        anyOf = draft.anyOf
        oneOf = draft.oneOf
        not = draft.not
        ifSchema = draft.ifSchema
        thenSchema = draft.thenSchema
        elseSchema = draft.elseSchema
        properties = draft.properties
        patternProperties = draft.patternProperties
        additionalProperties = draft.additionalProperties
        required = draft.required
        dependentRequired = draft.dependentRequired
        dependentSchemas = draft.dependentSchemas
        propertyNamesSchema = draft.propertyNamesSchema
        minProperties = draft.minProperties
        maxProperties = draft.maxProperties
        prefixItems = draft.prefixItems
        items = draft.items
        contains = draft.contains
        minContains = draft.minContains
        maxContains = draft.maxContains
        minItems = draft.minItems
        maxItems = draft.maxItems
        uniqueItems = draft.uniqueItems
        minimum = draft.minimum
        maximum = draft.maximum
        exclusiveMinimum = draft.exclusiveMinimum
        exclusiveMaximum = draft.exclusiveMaximum
        multipleOf = draft.multipleOf
        minLength = draft.minLength
        maxLength = draft.maxLength
        pattern = draft.pattern
        checksValue = draft.checksValue
        appliesInPlace = draft.appliesInPlace
        checksObjects = draft.checksObjects
        descendsIntoObjects = draft.descendsIntoObjects
        checksArrays = draft.checksArrays
        descendsIntoArrays = draft.descendsIntoArrays
        checksStrings = draft.checksStrings
        checksNumbers = draft.checksNumbers
    }
}

/// A string compared and hashed by its exact code points. (Swift's `String ==` uses canonical
/// equivalence, so "\u{E9}" == "e\u{301}"; JSON and JSON Schema compare code points.)
private struct ExactKey: Hashable, Sendable {
    let string: String
    init(_ string: String) { self.string = string }
    static func == (a: ExactKey, b: ExactKey) -> Bool { a.string.utf8.elementsEqual(b.string.utf8) }
    func hash(into hasher: inout Hasher) {
        let hashed: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { Array(string.utf8).withUnsafeBytes { hasher.combine(bytes: $0) } }
    }
}

// MARK: - Compiler

private struct Compiler {
    let document: JSONValue
    var nodes: [SchemaNodeDraft] = []
    /// Compiled subschemas by canonical JSON pointer, so that `$ref`s share (and may recurse into) them.
    var byPointer: [ExactKey: Int] = [:]

    init(document: JSONValue) { self.document = document }

    static let unsupported: [String: String] = [
        "$dynamicRef": "$dynamicRef is not supported",
        "$recursiveRef": "$recursiveRef is not supported",
        "unevaluatedProperties": "unevaluatedProperties is not supported",
        "unevaluatedItems": "unevaluatedItems is not supported",
        // Draft-07 keywords: ignoring them would validate more loosely than the schema says.
        "dependencies": "dependencies (draft-07) is not supported; use dependentRequired or dependentSchemas",
        "additionalItems": "additionalItems (draft-07) is not supported; use prefixItems and items",
    ]

    mutating func compile(_ value: JSONValue, at tokens: [String]) throws(JSONSchemaError) -> Int {
        let pointer = Self.pointer(tokens)
        if let index = byPointer[ExactKey(pointer)] { return index }
        let index = nodes.count
        byPointer[ExactKey(pointer)] = index
        switch value {
        case .bool(let b):
            nodes.append(SchemaNodeDraft(pointer: pointer, constant: b))
            return index
        case .object(let members):
            let node = SchemaNodeDraft(pointer: pointer)
            nodes.append(node)
            for (keyword, value) in members {
                try compileKeyword(keyword, value, into: node, at: tokens)
            }
            node.finish()
            return index
        default:
            throw JSONSchemaError(path: pointer, message: "a schema must be an object or a boolean, not \(value.typeName)")
        }
    }

    private mutating func compileKeyword(
        _ keyword: String, _ value: JSONValue, into node: SchemaNodeDraft,
        at tokens: [String]
    ) throws(JSONSchemaError) {
        let here = tokens + [keyword]
        func fail(_ message: String) -> JSONSchemaError { JSONSchemaError(path: Self.pointer(here), message: message) }

        if let reason = Self.unsupported[keyword] { throw fail(reason) }
        switch keyword {
        case "$ref":
            guard case .string(let reference) = value else { throw fail("$ref must be a string") }
            node.ref = try compileRef(reference, at: tokens, fail: fail)

        case "$defs", "definitions":
            guard case .object(let members) = value else { throw fail("\(keyword) must be an object of schemas") }
            for (name, schema) in members { _ = try compile(schema, at: here + [name]) }

        case "type":
            (node.types, node.typeNames) = try typeSet(value, fail: fail)
        case "enum":
            guard case .array(let values) = value else { throw fail("enum must be an array") }
            node.enumValues = values
        case "const":
            node.constValue = value
        case "allOf", "anyOf", "oneOf":
            guard case .array(let schemas) = value, !schemas.isEmpty else { throw fail("\(keyword) must be a non-empty array of schemas") }
            var children: [Int] = []
            for (i, schema) in schemas.enumerated() { children.append(try compile(schema, at: here + [String(i)])) }
            switch keyword {
            case "allOf": node.allOf = children
            case "anyOf": node.anyOf = children
            default: node.oneOf = children
            }
        case "not": node.not = try compile(value, at: here)
        case "if": node.ifSchema = try compile(value, at: here)
        case "then": node.thenSchema = try compile(value, at: here)
        case "else": node.elseSchema = try compile(value, at: here)

        case "properties":
            guard case .object(let members) = value else { throw fail("properties must be an object of schemas") }
            node.properties = [:]
            for (name, schema) in members { node.properties[ExactKey(name)] = try compile(schema, at: here + [name]) }
        case "patternProperties":
            guard case .object(let members) = value else { throw fail("patternProperties must be an object of schemas") }
            node.patternProperties = []
            for (source, schema) in members {
                let regex = try Self.regex(source, fail: { JSONSchemaError(path: Self.pointer(here + [source]), message: $0) })
                node.patternProperties.append((regex, try compile(schema, at: here + [source])))
            }
        case "additionalProperties": node.additionalProperties = try compile(value, at: here)
        case "required": node.required = try uniqueStrings(value, keyword, fail: fail)
        case "dependentRequired":
            guard case .object(let members) = value else { throw fail("dependentRequired must be an object of string arrays") }
            node.dependentRequired = []
            for (name, names) in members {
                let list = try uniqueStrings(names, keyword) { JSONSchemaError(path: Self.pointer(here + [name]), message: $0) }
                node.dependentRequired.append((name, list))
            }
        case "dependentSchemas":
            guard case .object(let members) = value else { throw fail("dependentSchemas must be an object of schemas") }
            node.dependentSchemas = []
            for (name, schema) in members { node.dependentSchemas.append((name, try compile(schema, at: here + [name]))) }
        case "propertyNames": node.propertyNamesSchema = try compile(value, at: here)
        case "minProperties": node.minProperties = try count(value, keyword, fail: fail)
        case "maxProperties": node.maxProperties = try count(value, keyword, fail: fail)

        case "prefixItems":
            guard case .array(let schemas) = value, !schemas.isEmpty else { throw fail("prefixItems must be a non-empty array of schemas") }
            node.prefixItems = []
            for (i, schema) in schemas.enumerated() { node.prefixItems.append(try compile(schema, at: here + [String(i)])) }
        case "items":
            if case .array = value {
                throw fail("items must be a schema (draft 2020-12); for a tuple use prefixItems (and items for the rest)")
            }
            node.items = try compile(value, at: here)
        case "contains": node.contains = try compile(value, at: here)
        case "minContains": node.minContains = try count(value, keyword, fail: fail)
        case "maxContains": node.maxContains = try count(value, keyword, fail: fail)
        case "minItems": node.minItems = try count(value, keyword, fail: fail)
        case "maxItems": node.maxItems = try count(value, keyword, fail: fail)
        case "uniqueItems":
            guard case .bool(let unique) = value else { throw fail("uniqueItems must be a boolean") }
            node.uniqueItems = unique

        case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf":
            guard let number = SchemaNumber(value) else { throw fail("\(keyword) must be a number, not \(value.typeName)") }
            switch keyword {
            case "minimum": node.minimum = number
            case "maximum": node.maximum = number
            case "exclusiveMinimum": node.exclusiveMinimum = number
            case "exclusiveMaximum": node.exclusiveMaximum = number
            default:
                guard number.double > 0, number.double.isFinite else { throw fail("multipleOf must be greater than 0") }
                node.multipleOf = number
            }

        case "minLength": node.minLength = try count(value, keyword, fail: fail)
        case "maxLength": node.maxLength = try count(value, keyword, fail: fail)
        case "pattern":
            guard case .string(let source) = value else { throw fail("pattern must be a string") }
            node.pattern = try Self.regex(source, fail: fail)

        default:
            break  // an annotation or an unknown keyword: ignored
        }
    }

    // MARK: $ref

    private mutating func compileRef(
        _ reference: String, at tokens: [String],
        fail: (String) -> JSONSchemaError
    ) throws(JSONSchemaError) -> Int {
        guard reference.hasPrefix("#") else {
            throw fail("only local $ref to a JSON pointer (\"#\", \"#/$defs/NAME\") is supported, not \"\(reference)\"")
        }
        if let owner = embeddedResource(containing: tokens) {
            throw fail("$ref inside a subschema with its own $id (at \(JSONSchema.displayPointer(owner))) is not supported")
        }
        guard let fragment = String(reference.dropFirst()).removingPercentEncoding else {
            throw fail("$ref \"\(reference)\" has invalid percent-encoding")
        }
        guard fragment.isEmpty || fragment.hasPrefix("/") else {
            throw fail("$ref to an $anchor (\"\(reference)\") is not supported; use a JSON pointer such as \"#/$defs/NAME\"")
        }
        var target = document
        var targetTokens: [String] = []
        if !fragment.isEmpty {
            for raw in fragment.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
                let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                let next: JSONValue?
                switch target {
                case .object: next = target[token]
                case .array(let items):
                    if let i = Int(token), i >= 0, i < items.count, String(i) == token { next = items[i] } else { next = nil }
                default: next = nil
                }
                guard let next else { throw fail("$ref \"\(reference)\" points to nothing in this schema") }
                target = next
                targetTokens.append(token)
            }
        }
        return try compile(target, at: targetTokens)
    }

    /// The pointer of the nearest non-root subschema on the way to `tokens` that declares `$id`, if any:
    /// a `$ref` below it would resolve against that `$id`, which this validator does not do.
    private func embeddedResource(containing tokens: [String]) -> String? {
        var value = document
        var found: String?
        for (depth, token) in tokens.enumerated() {
            let next: JSONValue?
            switch value {
            case .object: next = value[token]
            case .array(let items): next = Int(token).flatMap { $0 >= 0 && $0 < items.count ? items[$0] : nil }
            default: next = nil
            }
            guard let next else { break }
            value = next
            if case .string = value["$id"] ?? .null { found = Self.pointer(Array(tokens[...depth])) }
        }
        return found
    }

    /// A `$ref` loop that stays on one instance location (e.g. `{"$ref": "#"}`) would never end.
    mutating func rejectInPlaceCycles() throws(JSONSchemaError) {
        var state = [UInt8](repeating: 0, count: nodes.count)  // 0 new, 1 on the stack, 2 done
        for start in nodes.indices where state[start] == 0 {
            // Iterative DFS: (node, next child position).
            var stack: [(Int, Int)] = [(start, 0)]
            state[start] = 1
            while let (node, position) = stack.last {
                let children = nodes[node].inPlaceChildren
                if position < children.count {
                    stack[stack.count - 1].1 += 1
                    let child = children[position]
                    if state[child] == 1 {
                        throw JSONSchemaError(
                            path: nodes[child].pointer,
                            message: "$ref cycle that never descends into the instance (it would recurse forever)")
                    }
                    if state[child] == 0 {
                        state[child] = 1
                        stack.append((child, 0))
                    }
                } else {
                    state[node] = 2
                    stack.removeLast()
                }
            }
        }
    }

    // MARK: Keyword values

    private func typeSet(_ value: JSONValue, fail: (String) -> JSONSchemaError) throws(JSONSchemaError) -> (SchemaTypeSet, [String]) {
        func one(_ name: String) throws(JSONSchemaError) -> SchemaTypeSet {
            guard let type = SchemaTypeSet.names.first(where: { $0.0 == name })?.1 else {
                throw fail("unknown type \"\(name)\" (expected one of null, boolean, object, array, number, string, integer)")
            }
            return type
        }
        switch value {
        case .string(let name): return (try one(name), [name])
        case .array(let names):
            var set: SchemaTypeSet = []
            var list: [String] = []
            for name in names {
                guard case .string(let s) = name else { throw fail("type must be a string or an array of strings") }
                let type = try one(s)
                guard !set.contains(type) else { throw fail("type lists \"\(s)\" twice") }
                set.insert(type)
                list.append(s)
            }
            return (set, list)
        default:
            throw fail("type must be a string or an array of strings")
        }
    }

    private func uniqueStrings(
        _ value: JSONValue, _ keyword: String,
        fail: (String) -> JSONSchemaError
    ) throws(JSONSchemaError) -> [String] {
        guard case .array(let items) = value else { throw fail("\(keyword) must be an array of strings") }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item else { throw fail("\(keyword) must be an array of strings") }
            guard !out.contains(where: { $0.utf8.elementsEqual(s.utf8) }) else { throw fail("\(keyword) lists \"\(s)\" twice") }
            out.append(s)
        }
        return out
    }

    /// A non-negative integer (`2.0` counts, as the spec allows).
    private func count(
        _ value: JSONValue, _ keyword: String,
        fail: (String) -> JSONSchemaError
    ) throws(JSONSchemaError) -> Int {
        switch value {
        case .int(let i) where i >= 0: return Int(i)
        case .double(let d) where d >= 0 && d.isFinite && d == d.rounded(.towardZero):
            return d >= 9.0e18 ? Int.max : Int(d)
        default: throw fail("\(keyword) must be a non-negative integer")
        }
    }

    private static func regex(_ source: String, fail: (String) -> JSONSchemaError) throws(JSONSchemaError) -> RegexBox {
        do {
            return RegexBox([try NSRegularExpression(pattern: source)])
        } catch {
            throw fail("invalid regular expression \"\(source)\"")
        }
    }

    static func pointer(_ tokens: [String]) -> String {
        tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
    }
}

// MARK: - Evaluation

private enum PathToken {
    case key(String)
    case index(Int)
}

private struct Context {
    /// false: stop at the first failure and record nothing.
    var collect: Bool
    var path: [PathToken] = []
    var violations: [JSONSchemaViolation] = []
    /// The stack address where evaluation started, to bound how much stack the recursion uses.
    let stackBase = stackAddress()

    init(collect: Bool) { self.collect = collect }

    var pointer: String {
        path.map { token in
            switch token {
            case .key(let k): return "/" + k.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
            case .index(let i): return "/" + String(i)
            }
        }.joined()
    }

    /// Records a violation when collecting; returns whether evaluation should go on.
    mutating func fail(_ keyword: String, _ message: @autoclosure () -> String) -> Bool {
        guard collect else { return false }
        let pointer = pointer
        violations.append(
            JSONSchemaViolation(
                instancePath: pointer, keyword: keyword,
                message: "\(JSONSchema.displayPointer(pointer)): \(message())"))
        return true
    }
}

/// An address in the caller's stack frame.
@inline(never)
private func stackAddress() -> UInt {
    var marker: UInt8 = 0
    return withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
}

extension JSONSchema {
    /// The stack the recursive evaluation may use before it reports a violation instead of overflowing.
    /// Measured in a debug build: about 2.3 KiB per instance level for `{"items": {"$ref": "#"}}` and
    /// 6.7 KiB for a chain of four `$ref`/applicator hops per level, so a parsed instance (at most 256
    /// levels deep) validates even then; release builds use a fraction of that. Linux threads (main,
    /// Dispatch, Swift concurrency) have 8 MiB stacks; on a thread with less than about 3 MiB a
    /// pathological instance could still overflow before this guard.
    private static let stackBudget: UInt = 2 * 1024 * 1024

    /// Evaluates without recording anything (for anyOf, oneOf, not, if, contains, propertyNames).
    private func matches(_ index: Int, _ instance: JSONValue, _ context: inout Context) -> Bool {
        let collect = context.collect
        context.collect = false
        defer { context.collect = collect }
        return evaluate(index, instance, &context)
    }

    /// Kept small: every level of the instance costs a few of these frames.
    private func evaluate(_ index: Int, _ instance: JSONValue, _ context: inout Context) -> Bool {
        let node = nodes[index]
        if let constant = node.constant {
            if !constant { _ = context.fail("false", "no value is allowed here (the schema is false)") }
            return constant
        }
        let used = context.stackBase &- stackAddress()
        if used > Self.stackBudget, used < UInt.max / 2 {
            _ = context.fail("$ref", "nested too deeply to validate against this recursive schema")
            return false
        }
        var ok = true
        if let ref = node.ref, !evaluate(ref, instance, &context) {
            ok = false
            if !context.collect { return false }
        }
        if node.checksValue, !checkValue(node, instance, &context) {
            ok = false
            if !context.collect { return false }
        }
        if node.appliesInPlace, !applyInPlace(node, instance, &context) {
            ok = false
            if !context.collect { return false }
        }
        switch instance {
        case .object(let members):
            if node.checksObjects || node.descendsIntoObjects, !evaluateObject(node, uniqueMembers(members), &context) { ok = false }
        case .array(let items):
            if node.checksArrays || node.descendsIntoArrays, !evaluateArray(node, items, &context) { ok = false }
        case .string(let text):
            if node.checksStrings, !checkString(node, text, &context) { ok = false }
        case .int, .double:
            if node.checksNumbers, !checkNumber(node, instance, &context) { ok = false }
        case .null, .bool:
            break
        }
        return ok
    }

    /// type, enum, const.
    @inline(never)
    private func checkValue(_ node: SchemaNode, _ instance: JSONValue, _ context: inout Context) -> Bool {
        var ok = true
        if let types = node.types, !types.matches(instance) {
            ok = false
            guard context.fail("type", "expected \(SchemaTypeSet.phrase(node.typeNames)), got \(describe(instance))") else { return false }
        }
        if let values = node.enumValues, !values.contains(where: { jsonEqual($0, instance) }) {
            ok = false
            let shown = values.prefix(6).map { describe($0, full: true) }.joined(separator: ", ")
            let more = values.count > 6 ? ", ... (\(values.count) values)" : ""
            guard context.fail("enum", "\(describe(instance, full: true)) is not one of \(shown)\(more)") else { return false }
        }
        if let constValue = node.constValue, !jsonEqual(constValue, instance) {
            ok = false
            guard context.fail("const", "\(describe(instance, full: true)) is not the required value \(describe(constValue, full: true))") else { return false }
        }
        return ok
    }

    /// allOf, anyOf, oneOf, not, if/then/else.
    private func applyInPlace(_ node: SchemaNode, _ instance: JSONValue, _ context: inout Context) -> Bool {
        var ok = true
        for child in node.allOf where !evaluate(child, instance, &context) {
            ok = false
            if !context.collect { return false }
        }
        if !node.anyOf.isEmpty {
            var any = false
            for child in node.anyOf where matches(child, instance, &context) { any = true; break }
            if !any {
                ok = false
                guard context.fail("anyOf", "matches none of the \(node.anyOf.count) anyOf alternatives") else { return false }
            }
        }
        if !node.oneOf.isEmpty {
            var first = -1
            var second = -1
            for (i, child) in node.oneOf.enumerated() where matches(child, instance, &context) {
                if first < 0 { first = i } else { second = i; break }
            }
            if first < 0 || second >= 0 {
                ok = false
                guard reportOneOf(node.oneOf.count, first, second, &context) else { return false }
            }
        }
        if let not = node.not, matches(not, instance, &context) {
            ok = false
            guard context.fail("not", "must not match the \"not\" schema") else { return false }
        }
        if let ifSchema = node.ifSchema {
            let branch = matches(ifSchema, instance, &context) ? node.thenSchema : node.elseSchema
            if let branch, !evaluate(branch, instance, &context) {
                ok = false
                if !context.collect { return false }
            }
        }
        return ok
    }

    @inline(never)
    private func reportOneOf(_ count: Int, _ first: Int, _ second: Int, _ context: inout Context) -> Bool {
        first < 0
            ? context.fail("oneOf", "matches none of the \(count) oneOf alternatives")
            : context.fail("oneOf", "matches oneOf alternatives \(first) and \(second); exactly one must match")
    }

    private func evaluateObject(_ node: SchemaNode, _ members: [(String, JSONValue)], _ context: inout Context) -> Bool {
        var ok = true
        if node.checksObjects, !checkObject(node, members, &context) {
            ok = false
            if !context.collect { return false }
        }
        guard node.descendsIntoObjects else { return ok }
        if !node.dependentSchemas.isEmpty {
            for (name, schema) in node.dependentSchemas where members.contains(where: { ExactKey($0.0) == ExactKey(name) }) {
                if !evaluate(schema, .object(members), &context) {
                    ok = false
                    if !context.collect { return false }
                }
            }
        }
        let additional = node.additionalProperties
        let forbidsAdditional = additional.map { nodes[$0].constant == false } ?? false
        for (name, value) in members {
            var known = false
            if let schema = node.properties[ExactKey(name)] {
                known = true
                context.path.append(.key(name))
                let valid = evaluate(schema, value, &context)
                context.path.removeLast()
                if !valid { ok = false; if !context.collect { return false } }
            }
            for (regex, schema) in node.patternProperties where regex.matches(name) {
                known = true
                context.path.append(.key(name))
                let valid = evaluate(schema, value, &context)
                context.path.removeLast()
                if !valid { ok = false; if !context.collect { return false } }
            }
            guard !known, let additional else { continue }
            if forbidsAdditional {
                ok = false
                guard reportAdditional(name, &context) else { return false }
            } else {
                context.path.append(.key(name))
                let valid = evaluate(additional, value, &context)
                context.path.removeLast()
                if !valid { ok = false; if !context.collect { return false } }
            }
        }
        return ok
    }

    @inline(never)
    private func reportAdditional(_ name: String, _ context: inout Context) -> Bool {
        context.fail("additionalProperties", "property \(quote(name)) is not allowed")
    }

    /// required, dependentRequired, propertyNames, minProperties, maxProperties.
    @inline(never)
    private func checkObject(_ node: SchemaNode, _ members: [(String, JSONValue)], _ context: inout Context) -> Bool {
        var ok = true
        let present = Set(members.map { ExactKey($0.0) })
        for name in node.required where !present.contains(ExactKey(name)) {
            ok = false
            guard context.fail("required", "missing required property \(quote(name))") else { return false }
        }
        for (name, names) in node.dependentRequired where present.contains(ExactKey(name)) {
            for other in names where !present.contains(ExactKey(other)) {
                ok = false
                guard context.fail("dependentRequired", "property \(quote(other)) is required when \(quote(name)) is present") else { return false }
            }
        }
        if let minimum = node.minProperties, members.count < minimum {
            ok = false
            guard context.fail("minProperties", "has \(plural(members.count, "property", "properties")), fewer than minProperties \(minimum)") else {
                return false
            }
        }
        if let maximum = node.maxProperties, members.count > maximum {
            ok = false
            guard context.fail("maxProperties", "has \(plural(members.count, "property", "properties")), more than maxProperties \(maximum)") else {
                return false
            }
        }
        if let namesSchema = node.propertyNamesSchema {
            for (name, _) in members where !matches(namesSchema, .string(name), &context) {
                ok = false
                guard context.fail("propertyNames", "property name \(quote(name)) does not match propertyNames") else { return false }
            }
        }
        return ok
    }

    private func evaluateArray(_ node: SchemaNode, _ items: [JSONValue], _ context: inout Context) -> Bool {
        var ok = true
        if node.checksArrays, !checkArray(node, items, &context) {
            ok = false
            if !context.collect { return false }
        }
        guard node.descendsIntoArrays else { return ok }
        for (i, schema) in node.prefixItems.enumerated() where i < items.count {
            context.path.append(.index(i))
            let valid = evaluate(schema, items[i], &context)
            context.path.removeLast()
            if !valid { ok = false; if !context.collect { return false } }
        }
        if let schema = node.items, items.count > node.prefixItems.count {
            if nodes[schema].constant == false {
                ok = false
                guard reportNoMoreItems(items.count, node.prefixItems.count, &context) else { return false }
            } else {
                for i in node.prefixItems.count..<items.count {
                    context.path.append(.index(i))
                    let valid = evaluate(schema, items[i], &context)
                    context.path.removeLast()
                    if !valid { ok = false; if !context.collect { return false } }
                }
            }
        }
        return ok
    }

    @inline(never)
    private func reportNoMoreItems(_ count: Int, _ allowed: Int, _ context: inout Context) -> Bool {
        context.fail("items", "has \(plural(count, "item", "items")), at most \(allowed) allowed")
    }

    /// minItems, maxItems, uniqueItems, contains/minContains/maxContains.
    @inline(never)
    private func checkArray(_ node: SchemaNode, _ items: [JSONValue], _ context: inout Context) -> Bool {
        var ok = true
        if let minimum = node.minItems, items.count < minimum {
            ok = false
            guard context.fail("minItems", "has \(plural(items.count, "item", "items")), fewer than minItems \(minimum)") else { return false }
        }
        if let maximum = node.maxItems, items.count > maximum {
            ok = false
            guard context.fail("maxItems", "has \(plural(items.count, "item", "items")), more than maxItems \(maximum)") else { return false }
        }
        if node.uniqueItems, items.count > 1 {
            search: for i in 0..<items.count - 1 {
                for j in i + 1..<items.count where jsonEqual(items[i], items[j]) {
                    ok = false
                    guard context.fail("uniqueItems", "items \(i) and \(j) are equal; items must be unique") else { return false }
                    break search
                }
            }
        }
        if let contains = node.contains {
            var count = 0
            for (i, item) in items.enumerated() {
                context.path.append(.index(i))
                if matches(contains, item, &context) { count += 1 }
                context.path.removeLast()
            }
            let minimum = node.minContains ?? 1
            if count < minimum {
                ok = false
                let message =
                    node.minContains == nil
                    ? "no item matches contains"
                    : "\(plural(count, "item matches", "items match")) contains, fewer than minContains \(minimum)"
                guard context.fail(node.minContains == nil ? "contains" : "minContains", message) else { return false }
            }
            if let maximum = node.maxContains, count > maximum {
                ok = false
                guard context.fail("maxContains", "\(plural(count, "item matches", "items match")) contains, more than maxContains \(maximum)") else {
                    return false
                }
            }
        }
        return ok
    }

    /// minLength, maxLength (in code points), pattern.
    @inline(never)
    private func checkString(_ node: SchemaNode, _ text: String, _ context: inout Context) -> Bool {
        var ok = true
        if node.minLength != nil || node.maxLength != nil {
            let length = text.unicodeScalars.count
            if let minimum = node.minLength, length < minimum {
                ok = false
                guard context.fail("minLength", "\(describe(.string(text))) has \(plural(length, "character", "characters")), fewer than minLength \(minimum)")
                else { return false }
            }
            if let maximum = node.maxLength, length > maximum {
                ok = false
                guard context.fail("maxLength", "\(describe(.string(text))) has \(plural(length, "character", "characters")), more than maxLength \(maximum)")
                else { return false }
            }
        }
        if let pattern = node.pattern, !pattern.matches(text) {
            ok = false
            guard context.fail("pattern", "\(describe(.string(text))) does not match pattern \(pattern.items[0].pattern)") else { return false }
        }
        return ok
    }

    /// minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf.
    @inline(never)
    private func checkNumber(_ node: SchemaNode, _ instance: JSONValue, _ context: inout Context) -> Bool {
        var ok = true
        let shown = describe(instance)
        if let limit = node.minimum, compare(instance, limit) < 0 {
            ok = false
            guard context.fail("minimum", "\(shown) is less than minimum \(limit)") else { return false }
        }
        if let limit = node.exclusiveMinimum, compare(instance, limit) <= 0 {
            ok = false
            guard context.fail("exclusiveMinimum", "\(shown) is not greater than exclusiveMinimum \(limit)") else { return false }
        }
        if let limit = node.maximum, compare(instance, limit) > 0 {
            ok = false
            guard context.fail("maximum", "\(shown) is greater than maximum \(limit)") else { return false }
        }
        if let limit = node.exclusiveMaximum, compare(instance, limit) >= 0 {
            ok = false
            guard context.fail("exclusiveMaximum", "\(shown) is not less than exclusiveMaximum \(limit)") else { return false }
        }
        if let divisor = node.multipleOf, !isMultiple(instance, of: divisor) {
            ok = false
            guard context.fail("multipleOf", "\(shown) is not a multiple of \(divisor)") else { return false }
        }
        return ok
    }

    // MARK: Helpers

    /// The last member wins when a key repeats (as `JSONValue[key]` does).
    private func uniqueMembers(_ members: [(String, JSONValue)]) -> [(String, JSONValue)] {
        guard members.count > 1 else { return members }
        var seen = Set<ExactKey>()
        var hasDuplicates = false
        for (key, _) in members where !seen.insert(ExactKey(key)).inserted { hasDuplicates = true; break }
        guard hasDuplicates else { return members }
        seen.removeAll()
        var out: [(String, JSONValue)] = []
        for member in members.reversed() where seen.insert(ExactKey(member.0)).inserted { out.append(member) }
        return out.reversed()
    }

    private func compare(_ instance: JSONValue, _ limit: SchemaNumber) -> Int {
        if case .int(let a) = instance, case .int(let b) = limit { return a < b ? -1 : (a > b ? 1 : 0) }
        let a = instance.numberValue ?? 0
        let b = limit.double
        return a < b ? -1 : (a > b ? 1 : 0)
    }

    private func isMultiple(_ instance: JSONValue, of divisor: SchemaNumber) -> Bool {
        if case .int(let a) = instance, case .int(let b) = divisor { return a % b == 0 }
        guard let a = instance.numberValue else { return true }
        let quotient = a / divisor.double
        guard quotient.isFinite else { return false }
        return abs(quotient - quotient.rounded()) < 1e-9
    }
}

/// JSON equality: numbers by value (`1 == 1.0`), object members unordered, arrays ordered, `true != 1`.
private func jsonEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case let (.bool(x), .bool(y)): return x == y
    case let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
    case let (.int(x), .int(y)): return x == y
    case (.int, .double), (.double, .int), (.double, .double): return a.numberValue == b.numberValue
    case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { jsonEqual($0, $1) }
    case let (.object(x), .object(y)):
        let left = Dictionary(x.map { (ExactKey($0.0), $0.1) }, uniquingKeysWith: { _, last in last })
        let right = Dictionary(y.map { (ExactKey($0.0), $0.1) }, uniquingKeysWith: { _, last in last })
        guard left.count == right.count else { return false }
        return left.allSatisfy { key, value in right[key].map { jsonEqual(value, $0) } ?? false }
    default: return false
    }
}

private func formatNumber(_ d: Double) -> String {
    if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
    return "\(d)"
}

private func quote(_ s: String) -> String {
    var out = ""
    JSONValue.writeString(s.count > 60 ? String(s.prefix(57)) + "..." : s, to: &out)
    return out
}

/// A short rendering for messages: scalars by value (strings quoted and shortened), containers by kind
/// unless `full` and small.
private func describe(_ value: JSONValue, full: Bool = false) -> String {
    switch value {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .double(let d): return formatNumber(d)
    case .string(let s): return quote(s)
    case .array, .object:
        if full {
            let text = value.serialized()
            if text.count <= 60 { return text }
        }
        return value.typeName
    }
}

private func plural(_ n: Int, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }
