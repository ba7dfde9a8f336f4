import Executor
import JetData

/// The jet classes a parameter names, in the order given.
func jetClasses(_ params: [String: JSONValue], key: String = "classes") -> [JetClass] {
    (params[key]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(JetClass.init(rawValue:)) }
}

func classIssues(_ params: [String: JSONValue], key: String, allowEmpty: Bool = false) -> [ParamIssue] {
    let names = (params[key]?.arrayValue ?? []).compactMap(\.stringValue)
    var issues: [ParamIssue] = []
    for (i, n) in names.enumerated() where JetClass(rawValue: n) == nil {
        issues.append(ParamIssue(path: "\(key)[\(i)]", message: "unknown jet class '\(n)'", fix: "use g, q, t, w or z"))
    }
    if Set(names).count != names.count {
        issues.append(ParamIssue(path: key, message: "a class is listed twice", fix: "list each class once"))
    }
    if names.isEmpty && !allowEmpty {
        issues.append(ParamIssue(path: key, message: "no classes", fix: "list at least one of g, q, t, w, z"))
    }
    return issues
}
