"""Generated gRPC code for the KServe v2 / Open Inference Protocol (`grpc_predict_v2.proto`).

The .proto is KServe's published `docs/predict-api/v2/grpc_predict_v2.proto`
(Apache-2.0, header kept). Regenerate from `src/` with grpcio-tools::

    python -m grpc_tools.protoc -I . --python_out=. --grpc_python_out=. --pyi_out=. \
        mlcycle/serving/_proto/grpc_predict_v2.proto
    sed -i 's/_pool.Default().AddSerializedFile/_pool.DescriptorPool().AddSerializedFile/' \
        mlcycle/serving/_proto/grpc_predict_v2_pb2.py

The `sed` puts the messages in a private descriptor pool: tritonclient's
`grpc_service.proto` defines the same `inference.*` names in the default
pool, and both in one process would fail with "duplicate symbol"
(kserve/kserve#3099). The wire format and the service path
`/inference.GRPCInferenceService/...` are unchanged.
"""
