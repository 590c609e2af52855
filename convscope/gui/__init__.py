"""ConvScope's window (PySide6 + pyqtgraph). No TensorFlow here: the GUI sends jobs to the
engine thread (engine/qt_bridge.py) and draws the results."""
