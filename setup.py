"""selfemb: unsupervised embedding and self-supervised representation learning."""
from pathlib import Path

from setuptools import find_packages, setup

version: dict = {}
exec(Path('selfemb/version.py').read_text(), version)

# Pins that install together on Python 3.11 (see scripts/install.sh for the order:
# mmcv must be compiled against the installed torch, so it is not built by this file).
INSTALL_REQUIRES = [
    'torch==2.14.1',
    'torchvision==0.29.1',
    'numpy<2',
    'opencv-python<4.12',
    'mmengine==0.10.7',
    'mmcv==2.1.0',
    'mmpretrain==1.2.0',
    'faiss-cpu==1.15.1',
    'scipy',  # SVHN .mat files
    'tqdm',
]
EXTRAS = {
    'transfer': ['mmdet==3.3.0', 'mmsegmentation==1.2.2', 'ftfy', 'regex'],
    'eval': ['scikit-learn', 'matplotlib'],
    'tests': ['pytest', 'pytest-timeout', 'ruff==0.17.6'],
    # the GPU JPEG input path's fast decoder (configs/_base_/datasets/imagenet_gpu.py);
    # without it that path decodes with torchvision
    'dali': ['nvidia-dali-cuda130>=2.4'],
}

setup(
    name='selfemb',
    version=version['__version__'],
    description='Unsupervised embedding and self-supervised visual representation learning '
    'on the OpenMMLab stack (ISIF, NPID, AND, Super-AND, InterCLR, CLD, UIC).',
    long_description=Path('README.md').read_text() if Path('README.md').exists() else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['selfemb', 'selfemb.*']),
    python_requires='>=3.10',
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    license='Apache-2.0',
)
