Attribute VB_Name = "RibbonThiDua"
' Thi dua add-in: the ribbon's buttons (customUI.xml). Import this module into the
' add-in's VBA project once (see README.md); each button runs one Python function.
Option Explicit

Sub KiemTraBaoCao(control As IRibbonControl)
    RunPython "import addin.buttons; addin.buttons.kiem_tra_bao_cao_macro()"
End Sub

Sub DanhGiaChiTieu(control As IRibbonControl)
    RunPython "import addin.buttons; addin.buttons.danh_gia_chi_tieu_macro()"
End Sub

Sub TaoBaoCaoMoi(control As IRibbonControl)
    RunPython "import addin.buttons; addin.buttons.tao_bao_cao_moi_macro()"
End Sub

Sub TongHop(control As IRibbonControl)
    RunPython "import addin.buttons; addin.buttons.tong_hop_macro()"
End Sub

Sub TongHopThuMuc(control As IRibbonControl)
    RunPython "import addin.classic; addin.classic.tong_hop_thu_muc_macro()"
End Sub

Sub NapHam(control As IRibbonControl)
    ImportPythonUDFsToAddin
End Sub
