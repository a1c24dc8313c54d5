from django.urls import path

from .views import ceiling_insert_one_row

app_name = "bench"

urlpatterns = [path("ceiling", ceiling_insert_one_row, name="ceiling")]
