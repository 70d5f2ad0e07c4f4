"""The user's own crops: collected where the model was unsure (``collect``), labelled by hand on the review page
(``review``) or by moving files (``folder`` is the format), and learned from by ``train --user-data``."""
