"""Qt item models: adapters from client data to Qt's model/view classes (as napari's `_qt` does)."""
