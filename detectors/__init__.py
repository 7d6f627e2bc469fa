"""Online detectors behind one protocol, the warning lifecycle and the evaluation harness."""

from detectors.base import Detector, DetectorSpec, Finding, get, register, registry

__all__ = ["Detector", "DetectorSpec", "Finding", "get", "register", "registry"]
