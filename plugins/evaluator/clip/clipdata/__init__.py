"""The paper's datasets as sglab tasks: MS-COCO captions by category (coco), Oxford-IIIT
Pets by breed (pets) and Flowers102 by class (flowers), the latter two with caption files
(captions). Each loader reads the dataset's own file layout and returns Items: an image
file with its captions."""

from .captions import read_captions, write_captions
from .coco import Coco
from .flowers import Flowers
from .items import Item
from .pets import Pets

__all__ = ["Coco", "Flowers", "Item", "Pets", "read_captions", "write_captions"]
