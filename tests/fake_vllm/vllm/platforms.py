"""The fake's `vllm.platforms.current_platform`: a CUDA platform, the one the fake stands in for.

The fake exists for what vLLM's CPU build cannot show (sleep mode, CUDA's weight-loading path);
the real CPU build is tested in tests/test_vllm_cpu.py.
"""

from __future__ import annotations


class FakeCudaPlatform:
    """The answers of vLLM's ``CudaPlatform`` that ttcs asks for."""

    device_type = "cuda"

    def is_cpu(self) -> bool:
        return False

    def is_cuda_alike(self) -> bool:
        return True

    def is_sleep_mode_available(self) -> bool:
        return True


current_platform = FakeCudaPlatform()
