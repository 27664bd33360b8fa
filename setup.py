"""fastreid-multimodal: text for FastReID person re-identification (DMF and MMET).

fastreid 1.4.0 (the only FastReID on PyPI) pins torch==1.13.1, which does not install on Python
3.11 with a modern torch; it is installed with ``--no-deps`` by ``make install``, and its real
run-time dependencies are listed here instead. faiss comes from exactly one extra: ``cpu``
(faiss-cpu) or ``gpu`` (faiss-gpu); both provide the same ``faiss`` module and must not be mixed.
``deploy`` brings what tools/export_onnx.py needs (onnx, onnxruntime); ``test`` also brings
open-clip-torch, which the tests build randomly initialised CLIP towers with (no download).
"""
from setuptools import Extension, find_packages, setup

try:  # the exact ranking's one-pass kernel; without it evaluation uses the (slower) torch path
    from Cython.Build import cythonize
    EXTENSIONS = cythonize([Extension("fastreid_multimodal.evaluation._match_ranks",
                                      ["fastreid_multimodal/evaluation/_match_ranks.pyx"],
                                      extra_compile_args=["-O3"], optional=True)],
                           quiet=True)
except ImportError:
    EXTENSIONS = []

setup(
    name="fastreid-multimodal",
    version="0.1.0",
    description="Deep multimodal fusion (DMF) and MMET for generalizable person re-id, on FastReID",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["fastreid_multimodal", "fastreid_multimodal.*"]),
    ext_modules=EXTENSIONS,
    install_requires=[
        "torch>=2.1",
        "torchvision>=0.16",
        "timm>=1.0",
        "transformers>=4.40",
        "yacs>=0.1.8",
        "numpy>=1.24",
        "Pillow>=9",
        "opencv-python-headless>=4.7",
        "scikit-learn>=1.2",
        "tabulate>=0.9",
        "termcolor>=2.2",
        "tensorboard>=2.12",
        "matplotlib>=3.6",
        "Cython>=0.29",  # builds fastreid's ranking extension at install time
    ],
    extras_require={
        "cpu": ["faiss-cpu>=1.7.3"],
        "gpu": ["faiss-gpu>=1.7.2"],
        "deploy": ["onnx>=1.15", "onnxruntime>=1.17"],
        "test": ["pytest>=7", "open-clip-torch>=2.20"],
    },
)
