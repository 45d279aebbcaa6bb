"""The Kubernetes API as a source (`analyze --kube`), and Kubernetes documents as text.

Importing this package costs nothing: the `kubernetes` client is imported by `KubeSource.read()`
only, so a run over local files never pays for it.
"""

from .source import KubeSource

__all__ = ["KubeSource"]
