from thanos.store.storepb import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Aggr(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RAW: _ClassVar[Aggr]
    COUNT: _ClassVar[Aggr]
    SUM: _ClassVar[Aggr]
    MIN: _ClassVar[Aggr]
    MAX: _ClassVar[Aggr]
    COUNTER: _ClassVar[Aggr]
RAW: Aggr
COUNT: Aggr
SUM: Aggr
MIN: Aggr
MAX: Aggr
COUNTER: Aggr

class SeriesRequest(_message.Message):
    __slots__ = ("min_time", "max_time", "matchers", "max_resolution_window", "aggregates", "partial_response_disabled", "partial_response_strategy", "skip_chunks")
    MIN_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_TIME_FIELD_NUMBER: _ClassVar[int]
    MATCHERS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESOLUTION_WINDOW_FIELD_NUMBER: _ClassVar[int]
    AGGREGATES_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_RESPONSE_DISABLED_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_RESPONSE_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SKIP_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    min_time: int
    max_time: int
    matchers: _containers.RepeatedCompositeFieldContainer[_types_pb2.LabelMatcher]
    max_resolution_window: int
    aggregates: _containers.RepeatedScalarFieldContainer[Aggr]
    partial_response_disabled: bool
    partial_response_strategy: _types_pb2.PartialResponseStrategy
    skip_chunks: bool
    def __init__(self, min_time: _Optional[int] = ..., max_time: _Optional[int] = ..., matchers: _Optional[_Iterable[_Union[_types_pb2.LabelMatcher, _Mapping]]] = ..., max_resolution_window: _Optional[int] = ..., aggregates: _Optional[_Iterable[_Union[Aggr, str]]] = ..., partial_response_disabled: _Optional[bool] = ..., partial_response_strategy: _Optional[_Union[_types_pb2.PartialResponseStrategy, str]] = ..., skip_chunks: _Optional[bool] = ...) -> None: ...

class SeriesResponse(_message.Message):
    __slots__ = ("series", "warning")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    series: _types_pb2.Series
    warning: str
    def __init__(self, series: _Optional[_Union[_types_pb2.Series, _Mapping]] = ..., warning: _Optional[str] = ...) -> None: ...

class LabelNamesRequest(_message.Message):
    __slots__ = ("partial_response_disabled", "partial_response_strategy", "start", "end", "matchers", "limit")
    PARTIAL_RESPONSE_DISABLED_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_RESPONSE_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    MATCHERS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    partial_response_disabled: bool
    partial_response_strategy: _types_pb2.PartialResponseStrategy
    start: int
    end: int
    matchers: _containers.RepeatedCompositeFieldContainer[_types_pb2.LabelMatcher]
    limit: int
    def __init__(self, partial_response_disabled: _Optional[bool] = ..., partial_response_strategy: _Optional[_Union[_types_pb2.PartialResponseStrategy, str]] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., matchers: _Optional[_Iterable[_Union[_types_pb2.LabelMatcher, _Mapping]]] = ..., limit: _Optional[int] = ...) -> None: ...

class LabelNamesResponse(_message.Message):
    __slots__ = ("names", "warnings")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class LabelValuesRequest(_message.Message):
    __slots__ = ("label", "partial_response_disabled", "partial_response_strategy", "start", "end", "matchers", "limit")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_RESPONSE_DISABLED_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_RESPONSE_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    MATCHERS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    label: str
    partial_response_disabled: bool
    partial_response_strategy: _types_pb2.PartialResponseStrategy
    start: int
    end: int
    matchers: _containers.RepeatedCompositeFieldContainer[_types_pb2.LabelMatcher]
    limit: int
    def __init__(self, label: _Optional[str] = ..., partial_response_disabled: _Optional[bool] = ..., partial_response_strategy: _Optional[_Union[_types_pb2.PartialResponseStrategy, str]] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., matchers: _Optional[_Iterable[_Union[_types_pb2.LabelMatcher, _Mapping]]] = ..., limit: _Optional[int] = ...) -> None: ...

class LabelValuesResponse(_message.Message):
    __slots__ = ("values", "warnings")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...
