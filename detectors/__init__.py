"""Online detectors behind one protocol: the registry, one file per detector, shared statistics."""

from detectors.base import Detector, DetectorSpec, Finding, get, register, registry

__all__ = ["Detector", "DetectorSpec", "Finding", "get", "register", "registry"]
