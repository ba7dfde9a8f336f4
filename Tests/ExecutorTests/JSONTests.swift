import Executor
import Foundation
import XCTest

/// pipeline.json is parsed strictly (a typo must point at its line and column) and parameters
/// are hashed in one canonical form (however the user writes them, the key is the same).
final class JSONTests: XCTestCase {
    private func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONParseError? {
        do {
            let v = try JSONParser.parse(text, file: "pipeline.json")
            XCTFail("accepted invalid JSON \(text.debugDescription) as \(v.canonical)", file: file, line: line)
            return nil
        } catch let e as JSONParseError {
            return e
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
            return nil
        }
    }

    func testAcceptsEveryValueKind() throws {
        let v = try JSONParser.parse("""
            { "s": "a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00",
              "n": [0, -0.5, 12e2, 1E-2, -3], "t": true, "f": false, "z": null,
              "o": {}, "a": [] }
            """)
        XCTAssertEqual(v["s"], .string("a\"b\\c/d\u{8}\u{c}\n\r\té😀"))
        XCTAssertEqual(v["n"], .array([0, -0.5, 1200, 0.01, -3]))
        XCTAssertEqual(v["t"], .bool(true))
        XCTAssertEqual(v["f"], .bool(false))
        XCTAssertEqual(v["z"], .null)
        XCTAssertEqual(v["o"], .object([:]))
        XCTAssertEqual(v["a"], .array([]))
        XCTAssertEqual(try JSONParser.parse("  42 \n"), .number(42))
        for (text, value) in [("0", 0.0), ("-0", 0), ("10", 10), ("0.5", 0.5), ("0e1", 0), ("-0.01", -0.01)] {
            XCTAssertEqual(try JSONParser.parse(text), .number(value), text)
        }
    }

    func testDuplicateKeyIsRejectedAtItsLineAndColumn() throws {
        let e = try XCTUnwrap(parseError("{\n  \"a\": 1,\n  \"a\": 2\n}"))
        XCTAssertEqual(e.line, 3)
        XCTAssertEqual(e.column, 3)
        XCTAssertContains(e.message, "duplicate key \"a\"")
        XCTAssertTrue(e.description.hasPrefix("pipeline.json:3:3: invalid JSON"), e.description)
        // The same key in different objects is fine.
        XCTAssertNoThrow(try JSONParser.parse("{\"a\": {\"a\": 1}, \"b\": {\"a\": 2}}"))
    }

    func testTrailingCommasAreRejected() throws {
        let inObject = try XCTUnwrap(parseError("{\"a\": 1,\n}"))
        XCTAssertEqual(inObject.line, 2)
        XCTAssertEqual(inObject.column, 1)
        XCTAssertContains(inObject.message, "expected a string key")
        let inArray = try XCTUnwrap(parseError("[1, 2,]"))
        XCTAssertEqual(inArray.line, 1)
        XCTAssertEqual(inArray.column, 7)
    }

    func testBadEscapesAndControlCharactersAreRejected() throws {
        let x = try XCTUnwrap(parseError("{\"k\": \"a\\x\"}"))
        XCTAssertContains(x.message, "invalid escape")
        XCTAssertEqual(x.line, 1)
        XCTAssertContains(try XCTUnwrap(parseError("\"\\u12G4\"")).message, "invalid \\u escape")
        XCTAssertContains(try XCTUnwrap(parseError("\"\\ud83d\"")).message, "unpaired surrogate")
        XCTAssertContains(try XCTUnwrap(parseError("\"\\ud83d\\u0041\"")).message, "invalid surrogate pair")
        XCTAssertContains(try XCTUnwrap(parseError("\"tab\there\"")).message, "control character")
        XCTAssertContains(try XCTUnwrap(parseError("\"open")).message, "unterminated string")
    }

    func testMalformedNumbersLiteralsAndStructureAreRejected() throws {
        for bad in ["1.", ".5", "+1", "-", "1e", "1e+", "NaN", "Infinity", "tru", "nul", "01", "-01", "1e999",
                    "{\"a\" 1}", "{a: 1}", "[1 2]", "", "{} {}", "[", "{\"a\": 1"]
        {
            _ = parseError(bad)
        }
        XCTAssertContains(try XCTUnwrap(parseError("[1, 007]")).message, "leading zero")
        let e = try XCTUnwrap(parseError("{\n  \"ok\": 1,\n  \"bad\": tru\n}"))
        XCTAssertEqual(e.line, 3)
        XCTAssertEqual(e.column, 10)
    }

    func testCanonicalFormSortsKeysAndNormalisesNumbers() throws {
        let a = try JSONParser.parse("{\"b\": 1.0, \"a\": [1e-3, true, null, \"x\"], \"c\": {\"z\": 2, \"y\": -0.25}}")
        XCTAssertEqual(a.canonical, "{\"a\":[0.001,true,null,\"x\"],\"b\":1,\"c\":{\"y\":-0.25,\"z\":2}}")
        let b = try JSONParser.parse("{ \"c\": {\"y\": -25e-2, \"z\": 2.000}, \"a\": [0.001, true, null, \"x\"], \"b\": 1 }")
        XCTAssertEqual(a.canonical, b.canonical)
        XCTAssertEqual(a, b)
        XCTAssertEqual(try JSONParser.parse("1e-3").canonical, try JSONParser.parse("0.001").canonical)
        XCTAssertEqual(JSONValue.number(1.0).canonical, "1")
        XCTAssertEqual(JSONValue.number(-0.0).canonical, "0")
        XCTAssertEqual(JSONValue.number(1e20).canonical, "1e+20")
        XCTAssertEqual(JSONValue.number(0.1).canonical, "0.1")
        // Canonical text parses back to the same value.
        XCTAssertEqual(try JSONParser.parse(a.canonical), a)
        XCTAssertEqual(try JSONParser.parse(a.pretty), a)
    }

    func testCanonicalStringEscapes() throws {
        let s = JSONValue.string("q\"b\\n\nr\rt\t\u{1}é/")
        XCTAssertEqual(s.canonical, "\"q\\\"b\\\\n\\nr\\rt\\t\\u0001é/\"")
        XCTAssertEqual(try JSONParser.parse(s.canonical), s)
        // Keys are escaped the same way.
        XCTAssertEqual(JSONValue.object(["a\"b": 1]).canonical, "{\"a\\\"b\":1}")
    }

    func testKeysDependOnValuesNotOnSpelling() throws {
        func key(_ params: String) throws -> String {
            KeyComponents(kind: "k", code: "c", params: try JSONParser.parse(params), inputs: ["a/x": "d1"], env: ["tool": "1"]).key
        }
        XCTAssertEqual(try key("{\"lr\": 1e-3, \"n\": 10}"), try key("{\"n\": 10.0, \"lr\": 0.001}"))
        XCTAssertNotEqual(try key("{\"lr\": 1e-3}"), try key("{\"lr\": 1e-4}"))
        // A string "1" and a number 1 are different parameters.
        XCTAssertNotEqual(try key("{\"n\": 1}"), try key("{\"n\": \"1\"}"))
        let base = KeyComponents(kind: "k", code: "c", params: .object([:]), inputs: ["a/x": "d1"], env: [:])
        var other = base
        other.inputs = ["a/x": "d2"]
        XCTAssertNotEqual(base.key, other.key)
        other = base
        other.code = "c2"
        XCTAssertNotEqual(base.key, other.key)
        XCTAssertEqual(KeyComponents(json: base.json), base)
    }
}
