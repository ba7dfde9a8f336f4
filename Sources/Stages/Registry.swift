import Executor

/// Every stage kind pipeline.json may name. Adding a stage kind: one file plus one line here.
public let allStageKinds: [String: any StageKind] = {
    let kinds: [any StageKind] = [CommandStage(), FetchStage(), UnpackStage(), LoadStage(), PreprocessStage(), SplitStage(),
                                TrainStage(), TrainGNNAEStage(), TrainCNNAEStage(), EquivarianceStage(), ReconstructStage(), MatchStage(), ErrorsStage(), ROCStage(),
                                TablesStage()]
    return Dictionary(uniqueKeysWithValues: kinds.map { ($0.kind, $0) })
}()

let allStageKindPrefixes: [[String]] = [
    CommandStage.code, FetchStage.code, UnpackStage.code, LoadStage.code, PreprocessStage.code, SplitStage.code,
    TrainStage.code, TrainGNNAEStage.code, TrainCNNAEStage.code, EquivarianceStage.code, ReconstructStage.code, MatchStage.code, ErrorsStage.code, ROCStage.code,
    TablesStage.code, commonCode,
]
