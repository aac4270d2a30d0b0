"""Import and export the per-video ``.npy`` features the VAD community releases.

Layouts (one backbone at a time; several backbones are joined on the video id):

============  ===============================================  =======================
layout        files                                            array per file
============  ===============================================  =======================
``rtfm``      one per video (``Abuse001_x264_i3d.npy``)         (T, crops, D), RTFM
``per_crop``  one per crop: ``Abuse001_x264__0.npy`` ..         (T, D), UR-DMU, VadCLIP,
              ``__9`` (PEL4VAD: crop 0 without a suffix,        PEL4VAD
              ShanghaiTech ``01_0015_0.npy`` .. ``_9``)
``center``    one per video                                     (T, D), a single crop
============  ===============================================  =======================

Video lists are those repos' files: a ``.list`` / ``.txt`` with one feature path per line
(labels from the file name by the dataset's naming rule, or from a second column ``0`` /
``1`` as PEL4VAD's ShanghaiTech lists have), or a CSV with ``path`` and ``label`` columns
(VadCLIP: the label is the class name, ``Normal`` / ``A`` for normal). Paths may use ``/``
or ``\\`` and a drive letter; they point at their authors' disks, so a feature root can
stand in: the longest tail of the listed path that exists under the root is used.

Crops are the ones the list names (VadCLIP's test list names only ``__5``); a source with
``crops: all`` takes every ``__N`` sibling on disk instead. Lines of one video that differ
only in a trailing ``__N`` (or, when every line of the list has one, ``_N``) are its
crops; which lines are crops is read from the list as a whole, so that ShanghaiTech ids
such as ``01_0015`` are not taken for crops.

Ground truth is either the released concatenated frame-label vector (``gt-ucf.npy``,
``gt-sh.npy``, XD-Violence ``gt.npy``: the test videos in list order, each covering
T x 16 frames), cut into videos by their snippet counts, or a folder of per-video files
(PEL4VAD ``single_gt/<video>__9_gt.npy``, ShanghaiTech ``test_frame_mask/<video>.npy``)
matched by video id. Either is checked against the video labels: an anomalous test video
needs an anomalous frame and a normal one may have none.

Modules, one job each (this package imports none of them, so that the command line can read
the choices in :mod:`.layouts` without loading numpy or torch):

- :mod:`.layouts`: the layouts and crop modes (the choices config.yaml and the command line accept)
- :mod:`.labels`: video labels from names and list columns (the rules are :mod:`dakd.datasets.naming`'s)
- :mod:`.paths`: listed paths resolved to files on this disk
- :mod:`.lists`: video lists read into videos and their crop files
- :mod:`.npy`: ``.npy`` headers and arrays, checked against the layout
- :mod:`.truth`: released ground truth cut or matched to the test videos
- :mod:`.sources`: what to import (:class:`~.sources.FeatureSource`, :class:`~.sources.ImportSettings`),
  from config.yaml or the command line
- :mod:`.importer`: :func:`~.importer.import_features`, released files to feature shards
- :mod:`.export`: :func:`~.export.export_features`, feature shards to the RTFM layout
"""
