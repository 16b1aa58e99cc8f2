from thanos.store.labelpb import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ("label_sets", "ComponentType", "store")
    LABEL_SETS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTTYPE_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    label_sets: _containers.RepeatedCompositeFieldContainer[_types_pb2.ZLabelSet]
    ComponentType: str
    store: StoreInfo
    def __init__(self, label_sets: _Optional[_Iterable[_Union[_types_pb2.ZLabelSet, _Mapping]]] = ..., ComponentType: _Optional[str] = ..., store: _Optional[_Union[StoreInfo, _Mapping]] = ...) -> None: ...

class StoreInfo(_message.Message):
    __slots__ = ("min_time", "max_time", "supports_sharding", "supports_without_replica_labels")
    MIN_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_TIME_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_SHARDING_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_WITHOUT_REPLICA_LABELS_FIELD_NUMBER: _ClassVar[int]
    min_time: int
    max_time: int
    supports_sharding: bool
    supports_without_replica_labels: bool
    def __init__(self, min_time: _Optional[int] = ..., max_time: _Optional[int] = ..., supports_sharding: _Optional[bool] = ..., supports_without_replica_labels: _Optional[bool] = ...) -> None: ...
