module example.com/lib

go 1.22.5

replace example.com/other v1.0.0 => example.com/fork v1.0.1
