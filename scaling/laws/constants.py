"""The paper's constants: moved to scaling/constants.py (a leaf the config and
the accounting import without importing the laws package); kept here for the
laws modules' and older code's imports."""

from scaling.constants import (BCRIT_ALPHA_B, BCRIT_B_STAR, LR_A, LR_B,  # pylint: disable=unused-import
                               PF_DAY)
